/**
 * Every php.wasm (Emscripten) internal the server relies on, in one place. @php-wasm/universal keeps
 * the Emscripten module behind a symbol it names "dont use"; the sandbox patches its filesystem,
 * socket layer, output devices and two wasm imports, and the request path calls its C functions. A release of @php-wasm that renames or drops
 * one of them would quietly weaken the sandbox, so each worker checks them all when it boots and
 * refuses to start, naming what is missing, instead of serving without the protection.
 */
import { __private__dont__use, type PHP } from '@php-wasm/universal';

/** The Emscripten module as the server uses it (FS is Emscripten's, untyped upstream). */
export interface Runtime {
  /** Emscripten replaces this view whenever memory grows, so its length is the current size. */
  HEAPU8: Uint8Array;
  ENV: Record<string, string | undefined>;
  outboundNetworkProxyServer: import('node:http').Server;
  /** Emscripten's WebSocket settings (the relay URL php.wasm connects to). */
  websocket: unknown;
  /** The instance's exports; __heap_base marks where static data ends (see no-sqlite-wal.ts). */
  wasmExports?: Record<string, unknown> & { __heap_base?: number | WebAssembly.Global };
  FS: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- Emscripten's FS has no types here
  /** Emscripten's ccall: with `{ async: true }` it resolves once an asyncify-suspended call ends. */
  ccall(name: string, returnType: 'number' | null, argTypes: string[], args: unknown[], options?: { async: boolean }): any; // eslint-disable-line @typescript-eslint/no-explicit-any -- number, or its promise
  malloc(bytes: number): number;
  free(pointer: number): void;
  /** php.wasm's system calls for file locks, looked up at each call (shared-flock-on-read-only.ts). */
  userSpace: { flock: (fd: number, operation: number) => number };
}

export function runtimeOf(php: PHP): Runtime {
  return (php as unknown as Record<symbol, Runtime>)[__private__dont__use];
}

/** The C functions the request path calls (direct-request.ts), as PHP.runStream does. */
export const DIRECT_REQUEST_EXPORTS = [
  'wasm_set_request_uri', 'wasm_set_query_string', 'wasm_set_request_method', 'wasm_set_request_host',
  'wasm_set_request_port', 'wasm_set_cookies', 'wasm_set_content_type', 'wasm_set_content_length',
  'wasm_set_request_body', 'wasm_set_path_translated', 'wasm_add_SERVER_entry', 'wasm_sapi_handle_request',
] as const;

/** What the sandbox patches or calls, as paths into the module (checked for being functions/objects). */
const REQUIRED: Array<[path: string, kind: 'function' | 'object']> = [
  ['FS.open', 'function'], ['FS.write', 'function'], ['FS.read', 'function'], ['FS.close', 'function'],
  ['FS.doTruncate', 'function'], ['FS.doChown', 'function'], ['FS.mayCreate', 'function'], ['FS.mayDelete', 'function'],
  ['FS.createNode', 'function'], ['FS.lookupPath', 'function'], ['FS.lookupNode', 'function'], ['FS.isLink', 'function'], ['FS.isMountpoint', 'function'], ['FS.root', 'object'], ['FS.getPath', 'function'], ['FS.readdir', 'function'],
  ['FS.unlink', 'function'], ['FS.rmdir', 'function'], ['FS.rename', 'function'], ['FS.isDir', 'function'], ['FS.makedev', 'function'], ['FS.getStream', 'function'], ['FS.ErrnoError', 'function'],
  ['FS.devices', 'object'], ['FS.filesystems.MEMFS', 'object'], ['FS.filesystems.NODEFS.node_ops.mknod', 'function'],
  ['FS.filesystems.NODEFS.createNode', 'function'], ['FS.filesystems.NODEFS.realPath', 'function'],
  ['FS.filesystems.NODEFS.tryFSOperation', 'function'], ['FS.filesystems.NODEFS.getMode', 'function'], ['FS.isFile', 'function'],
  ['FS.filesystems.NODEFS.node_ops.setattr', 'function'], ['FS.filesystems.NODEFS.node_ops.symlink', 'function'],
  ['FS.stat', 'function'], ['FS.filesystems.NODEFS.stream_ops.open', 'function'], ['FS.filesystems.NODEFS.stream_ops.close', 'function'],
  ['FS.filesystems.NODEFS.stream_ops.dup', 'function'], ['FS.destroyNode', 'function'], ['FS.hashName', 'function'], ['FS.nameTable', 'object'], ['FS.mount', 'function'],
  ['websocket.url', 'function'], ['outboundNetworkProxyServer.listeners', 'function'], ['HEAPU8', 'object'],
  // The request path (direct-request.ts): ccall finds each C function as Module._NAME.
  ['ccall', 'function'], ['malloc', 'function'], ['free', 'function'], ['FS.streams', 'object'], ['FS.dupStream', 'function'],
  ['userSpace.flock', 'function'],
  ...DIRECT_REQUEST_EXPORTS.map((name): [string, 'function'] => [`_${name}`, 'function']),
];

/** Wasm imports the sandbox wraps (memory ceiling, connect errors, code changes sent before socket data). */
const REQUIRED_IMPORTS = ['emscripten_resize_heap', '__syscall_connect', '__syscall_sendto'];

/** What of REQUIRED this runtime lacks (empty: all there). */
export function missingInternals(runtime: Runtime): string[] {
  const missing = REQUIRED.filter(([path, kind]) => typeof lookup(runtime, path) !== kind).map(([path]) => path);
  // php.wasm's output devices: request body (64,0), stderr (63,0, the `php` command's) and head (62,0).
  for (const [major, name] of [[64, 'stdout'], [63, 'stderr'], [62, 'headers']] as const) {
    if (typeof runtime.FS?.devices?.[runtime.FS.makedev?.(major, 0)]?.stream_ops?.write !== 'function') missing.push(`FS.devices (${name} device ${major},0)`);
  }
  return missing;
}

export function missingImports(imports: WebAssembly.Imports): string[] {
  const env = (imports.env ?? {}) as Record<string, unknown>;
  return REQUIRED_IMPORTS.filter((name) => typeof env[name] !== 'function').map((name) => `wasm import env.${name}`);
}

export class UnsupportedPhpWasmError extends Error {
  constructor(missing: string[]) {
    super(`this @php-wasm build lacks internals the sandbox needs (${missing.join(', ')}); use the pinned version (see package.json)`);
  }
}

function lookup(root: unknown, path: string): unknown {
  let value: unknown = root;
  for (const part of path.split('.')) {
    if (value === null || value === undefined) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}
