/**
 * glibc's malloc and the worker threads. V8 compiles php.wasm's hot functions in each worker with
 * tens of MB of short-lived zone memory (peak ~75 MB per worker). glibc's mmap threshold adapts
 * upwards as large blocks are freed (up to 32 MB), so those blocks land in per-thread arenas, and
 * once freed they stay resident: ~100 MB with 2 workers, measured. A fixed threshold of 128 KiB
 * (glibc's default starting value; fixing it turns the adaptation off) serves them with mmap, and
 * freeing them returns the memory. Fixing it also fixes the trim threshold, whose default (128 KiB)
 * then gives memory back so eagerly that compiling php.wasm at start-up kept faulting it in again:
 * the first page came 0.8 s later; at 4 MiB, 0.4 s (measured, noisy), for ~10 MB of the ~100 MB
 * saved. glibc reads its tunables once, when the process starts, so the
 * launcher (bin/php-wasm-server.js, which `npm start` and the container run) sets it in the
 * environment; a process started otherwise says so in its log.
 */
import type { Logger } from 'pino';

export const MALLOC_TUNABLE = 'glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=4194304';

/** The environment with the tunable added (what the launcher's shebang does). */
export function withMallocTunable(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (hasMmapThreshold(env)) return env;
  return { ...env, GLIBC_TUNABLES: env.GLIBC_TUNABLES ? `${env.GLIBC_TUNABLES}:${MALLOC_TUNABLE}` : MALLOC_TUNABLE };
}

/** Whether this environment fixes glibc's mmap threshold (either spelling glibc reads). */
export function hasMmapThreshold(env: NodeJS.ProcessEnv): boolean {
  return /(^|:)glibc\.malloc\.mmap_threshold=/.test(env.GLIBC_TUNABLES ?? '') || env.MALLOC_MMAP_THRESHOLD_ !== undefined;
}

let glibc: boolean | undefined;

/**
 * Linux with glibc (not musl, not another OS): where the tunable means anything. Asked once per
 * thread: Node's diagnostic report, which names glibc's version, also gathers a report from every
 * worker thread, each interrupted for it; with the pool running, one took the main thread 54–114 ms
 * (5 ms before any worker exists, which is when the server first asks).
 */
export function runsOnGlibc(): boolean {
  glibc ??= process.platform === 'linux' && typeof (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime === 'string';
  return glibc;
}

export function reportMallocTunable(log: Logger, env: NodeJS.ProcessEnv = process.env): void {
  if (!runsOnGlibc() || hasMmapThreshold(env)) return;
  log.info(
    { hint: `start through bin/php-wasm-server.js (npm start does), or set GLIBC_TUNABLES=${MALLOC_TUNABLE}` },
    "glibc's malloc keeps memory the worker threads freed (~50 MB each): its mmap threshold is not fixed in this process's environment",
  );
}
