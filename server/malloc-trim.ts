/**
 * glibc keeps what threads free in their arenas: V8 compiles php.wasm in each worker with tens of MB
 * of short-lived memory, and an idle server held 45–65 MB of such free memory (measured: RSS 368 →
 * 303 MB after `malloc_trim(0)`), which the fixed mmap threshold (malloc-tunables.ts) does not
 * return. Node has no binding for malloc_trim; koffi (a maintained FFI that ships prebuilt binaries
 * in its package, so nothing is compiled or downloaded at install) calls it, on libuv's thread pool:
 * a trim takes 40–60 ms, and the event loop never waits for it.
 */
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import { runsOnGlibc } from './malloc-tunables.js';

/** Returns the process's free malloc memory to the system; resolves when done. */
export type MallocTrim = () => Promise<void>;

interface TrimFunction {
  async(pad: number, done: (error: unknown) => void): void;
}

/** malloc_trim, or undefined where it cannot be called (not glibc, or koffi does not load here: said in the log). */
export function loadMallocTrim(log: Logger): MallocTrim | undefined {
  if (!runsOnGlibc()) return undefined;
  let trim: TrimFunction;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    trim = koffi.load('libc.so.6').func('int malloc_trim(size_t pad)') as unknown as TrimFunction;
  } catch (error) {
    log.info({ error: String(error) }, "glibc's malloc_trim cannot be called (koffi did not load): memory the worker threads freed stays with the process");
    return undefined;
  }
  return () => new Promise<void>((resolve, reject) => trim.async(0, (error) => (error ? reject(error) : resolve())));
}
