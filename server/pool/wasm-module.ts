import { Worker } from 'node:worker_threads';
import type { PhpVersion } from '../config/types.js';
import { codeKeyOfDigest, readCodeFile, wireDigest } from '../wasm-code-cache/cache-file.js';
import { rememberDigest, rememberedDigest } from '../wasm-code-cache/wire-digest.js';
import { changedLately, openWasm, readOpenedWasm } from './wasm-bytes.js';
import { overlappingFolder } from '../opcache-file-cache/cache-folder.js';
import { wasmCodeCalls } from '../php-wasm/v8-wasm-code.js';

/** Where a restarted server finds php.wasm's machine code (see wasm-code-cache/). */
export interface CodeCacheLocation {
  /** Opcache's file cache folder, as configured. */
  root: string;
  /** Folders PHP can write: a code folder inside one of them could hold code PHP planted. */
  phpFolders: string[];
}

/** How the process got its module: what the server logs, and what the cache writer needs. */
export interface PhpModuleOrigin {
  /** Names these wire bytes on this Node (see cache-file.ts); hashed only when there is a code cache. */
  key?: string;
  loadedFromCache: boolean;
  /** Why the cache was not used, when one was asked for. */
  cacheMiss?: string;
  /** Reading, checking and compiling or loading. */
  ms: number;
  /** Made in a thread of its own while the server loaded (see preloadPhpModule). */
  inThread?: boolean;
  /** The key came from the digest remembered for the file (see wire-digest.ts), not from hashing its bytes. */
  digestRemembered?: boolean;
}

const compiled = new Map<PhpVersion, Promise<WebAssembly.Module>>();
const origins = new WeakMap<WebAssembly.Module, PhpModuleOrigin>();

export function phpModuleOrigin(module: WebAssembly.Module): PhpModuleOrigin | undefined {
  return origins.get(module);
}

/**
 * Compiles php.wasm once for the whole process. Workers instantiate the shared module, which
 * saves ~40 MB RSS and ~0.7 s per worker compared with each compiling its own copy. A server
 * started again in the same process (the tests start hundreds) reuses it too, and with it the
 * optimised machine code V8 made while earlier workers ran: a module is immutable, instances are not
 * shared. With a code cache, the first call loads the machine code an earlier run optimised instead
 * of compiling (later calls get the process's module, wherever it came from).
 */
export function compilePhpModule(version: PhpVersion, codeCache?: CodeCacheLocation): Promise<WebAssembly.Module> {
  return remember(version, () => loadPhpModule(version, codeCache).then(({ module, origin }) => {
    origins.set(module, origin);
    return module;
  }));
}

/**
 * Starts making the process's module in a thread of its own, while the main thread loads the rest of
 * the server (~0.4 s of imports on this 2-core machine): reading 23 MB, hashing them, and compiling
 * or loading the cached code (~0.3 s) then cost the start nothing. V8 shares a module between threads
 * (code and all), so the workers get the very one. If the thread cannot do it, the main thread does.
 */
export function preloadPhpModule(version: PhpVersion, codeCache?: CodeCacheLocation): void {
  remember(version, () => loadInThread(version, codeCache).then(
    (loaded) => ({ ...loaded, origin: { ...loaded.origin, inThread: true } }),
    () => loadPhpModule(version, codeCache),
  ).then(({ module, origin }) => {
    origins.set(module, origin);
    return module;
  }));
}

function remember(version: PhpVersion, make: () => Promise<WebAssembly.Module>): Promise<WebAssembly.Module> {
  let module = compiled.get(version);
  if (!module) {
    module = make();
    compiled.set(version, module);
    module.catch(() => compiled.delete(version)); // a failed read may succeed later
  }
  return module;
}

function loadInThread(version: PhpVersion, codeCache: CodeCacheLocation | undefined): Promise<LoadedModule> {
  return new Promise((resolve, reject) => {
    const thread = new Worker(new URL('./wasm-module-thread.js', import.meta.url), { workerData: { version, codeCache } });
    thread.once('message', (answer: LoadedModule | { error: string }) => ('error' in answer ? reject(new Error(answer.error)) : resolve(answer)));
    thread.once('error', reject);
    thread.once('exit', (code) => reject(new Error(`php.wasm's loading thread ended (code ${code}) without a module`)));
  });
}

export interface LoadedModule {
  module: WebAssembly.Module;
  origin: PhpModuleOrigin;
}

/** Reads php.wasm and compiles it, or loads the code cached for exactly these bytes. */
export async function loadPhpModule(version: PhpVersion, codeCache?: CodeCacheLocation): Promise<LoadedModule> {
  const started = performance.now();
  const loader = await phpLoaderModule(version);
  const wasm = openWasm(loader.dependencyFilename);
  // Read on libuv's threads while this one reads the cached code: the two reads overlap.
  const reading = readOpenedWasm(wasm);
  reading.catch(() => undefined); // awaited below; a read failing while a check here throws must not end the process
  const unusable = codeCache && whyCacheUnusable(codeCache);
  const usable = codeCache && !unusable ? codeCache : undefined;
  const remembered = usable && rememberedDigest(usable.root, wasm.path, wasm.identity);
  const early = usable && remembered ? readCodeFile(usable.root, codeKeyOfDigest(remembered)) : undefined;
  const { bytes: wireBytes, unchanged } = await reading;
  const digestRemembered = remembered !== undefined && unchanged;
  let key: string | undefined;
  let cached: { code: Uint8Array } | { miss: string } | undefined;
  if (digestRemembered) {
    key = codeKeyOfDigest(remembered);
    cached = early;
  } else if (codeCache) {
    const digest = wireDigest(wireBytes);
    key = codeKeyOfDigest(digest);
    if (usable && unchanged && !changedLately(wasm)) rememberDigest(usable.root, wasm.path, wasm.identity, digest);
    cached = usable ? readCodeFile(usable.root, key) : { miss: unusable! };
  }
  const fromCache = cached && 'code' in cached ? deserializeCode(cached.code, wireBytes) : cached;
  const module = fromCache && 'module' in fromCache ? fromCache.module : await WebAssembly.compile(wireBytes as Uint8Array<ArrayBuffer>);
  return {
    module,
    origin: {
      ...(key ? { key } : {}),
      loadedFromCache: fromCache !== undefined && 'module' in fromCache,
      ...(usable ? { digestRemembered } : {}),
      ...(fromCache && 'miss' in fromCache ? { cacheMiss: fromCache.miss } : {}),
      ms: Math.round(performance.now() - started),
    },
  };
}

/**
 * The loader of php.wasm for this PHP version, from the package @php-wasm/node itself imports it from
 * (its getPHPLoaderModule makes this very call; which build, JSPI or asyncify, is that package's
 * choice). Not through @php-wasm/node: importing it takes ~0.15 s, this ~0.02 s, and the thread that
 * preloads the module needs nothing else of it.
 */
export async function phpLoaderModule(version: PhpVersion): Promise<{ dependencyFilename: string }> {
  const buildPackage = `@php-wasm/node-${version.replace('.', '-')}`;
  const { getPHPLoaderModule } = (await import(buildPackage)) as { getPHPLoaderModule(): Promise<{ dependencyFilename: string }> };
  return getPHPLoaderModule();
}

/** Why no code may be read from (or remembered in) this cache, or undefined when it may. */
function whyCacheUnusable(location: CodeCacheLocation): string | undefined {
  const calls = wasmCodeCalls();
  if (typeof calls === 'string') return calls;
  const overlap = overlappingFolder(location.root, location.phpFolders);
  return overlap === undefined ? undefined : `the folder overlaps ${overlap}, which PHP can write`;
}

function deserializeCode(code: Uint8Array, wireBytes: Uint8Array): { module: WebAssembly.Module } | { miss: string } {
  const calls = wasmCodeCalls();
  if (typeof calls === 'string') return { miss: calls };
  const module = calls.deserialize(code, wireBytes);
  return module ? { module } : { miss: 'V8 refused the code (made with other V8 flags or CPU features)' };
}
