/**
 * V8's own calls for wasm machine code: write a compiled module's optimised code out, and make a
 * module again from it without compiling (what Chrome's wasm code cache does). Node exposes no API
 * for either, so they are V8's runtime functions, reachable from code parsed while V8's
 * allow-natives-syntax flag is on. The flag is switched on only for the moment it takes to parse one
 * small function and off again at once. The flag is process-wide: code another thread parses in that
 * moment is parsed with it too, which changes nothing for valid JavaScript (the flag only accepts
 * what would otherwise be a syntax error).
 *
 * Each function is parsed again for every call: V8 flushes the bytecode of functions not run for a
 * while and reparses them when next called, and a reparse with the flag off is a SyntaxError (seen
 * with --stress-flush-code), so a function kept for the next save would fail in a long-running server.
 *
 * Each call is made only with the argument types V8 checks (a wrong one aborts the process), and:
 * - serialize aborts the process when the module holds no optimised (TurboFan) function at all: the
 *   caller must know it holds one (`isOptimized` on one of its exported functions, in a thread that
 *   runs it);
 * - deserialize does not check that the code belongs to these wire bytes, nor that the code is whole
 *   (a truncated buffer came back as a module): the caller must (see wasm-code-cache/).
 * Node 26's V8 has no such functions: there everything says why it is unavailable.
 */
import { createRequire } from 'node:module';
import v8 from 'node:v8';

export interface WasmCodeCalls {
  /** The module's optimised code, with the module's state of tiering. */
  serialize(module: WebAssembly.Module): Uint8Array;
  /** A module from code `serialize` wrote on this Node, with the same V8 flags; undefined when V8 refuses it. */
  deserialize(code: Uint8Array, wireBytes: Uint8Array): WebAssembly.Module | undefined;
  /** Whether V8 runs this exported wasm function's optimised code now. */
  isOptimized(exported: (...args: never[]) => unknown): boolean;
}

const SERIALIZE = ['m', 'return %SerializeWasmModule(m)'];
const DESERIALIZE = ['b', 'w', 'return %DeserializeWasmModule(b, w)'];
const IS_TURBOFAN = ['f', 'return %IsTurboFanFunction(f)'];

let loaded: WasmCodeCalls | string | undefined;

/** The calls for this thread, or why there are none here. */
export function wasmCodeCalls(): WasmCodeCalls | string {
  return (loaded ??= load());
}

const alreadyOn = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].includes('--allow-natives-syntax');

/** A function whose body calls a runtime function, parsed (eagerly: it is a parenthesised function) with the flag on. */
function parseNative(params: string[]): (...args: unknown[]) => unknown {
  if (!alreadyOn) v8.setFlagsFromString('--allow-natives-syntax');
  try {
    return new Function(...params) as (...args: unknown[]) => unknown;
  } finally {
    if (!alreadyOn) v8.setFlagsFromString('--no-allow-natives-syntax');
  }
}

function load(): WasmCodeCalls | string {
  try {
    for (const params of [SERIALIZE, DESERIALIZE, IS_TURBOFAN]) parseNative(params);
  } catch (error) {
    return `this Node's V8 has no calls for wasm machine code (${(error as Error).message})`;
  }
  return {
    serialize(module) {
      if (!(module instanceof WebAssembly.Module)) throw new TypeError('not a WebAssembly.Module');
      // A debugger moves wasm to unoptimised debugging code, and with no optimised function left the call aborts.
      if (inspectorAttached()) throw new Error('not while an inspector is attached');
      return new Uint8Array(parseNative(SERIALIZE)(module) as ArrayBuffer);
    },
    deserialize(code, wireBytes) {
      // Fresh, unshared copies: V8 checks both are plain, attached buffers.
      const module = parseNative(DESERIALIZE)(new Uint8Array(code).buffer, new Uint8Array(wireBytes));
      return module instanceof WebAssembly.Module ? module : undefined;
    },
    isOptimized(exported) {
      // An exported wasm function is native code named by its index; anything else aborts the process.
      if (typeof exported !== 'function' || !/^\d+$/.test(exported.name) || !Function.prototype.toString.call(exported).includes('[native code]')) {
        throw new TypeError('not an exported wasm function');
      }
      return parseNative(IS_TURBOFAN)(exported) === true;
    },
  };
}

/** Loaded only when asked: a Node built without the inspector throws on importing it. */
function inspectorAttached(): boolean {
  try {
    const inspector = createRequire(import.meta.url)('node:inspector') as typeof import('node:inspector');
    return inspector.url() !== undefined;
  } catch {
    return false;
  }
}
