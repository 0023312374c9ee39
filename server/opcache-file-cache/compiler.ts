import { Worker } from 'node:worker_threads';
import type { SandboxSettings } from '../pool/php-instance.js';
import type { WorkerBoot } from '../pool/messages.js';
import { GUEST_OPCACHE_FILE_CACHE } from './cache-folder.js';
import type { CompilerData, CompilerMessage } from './compiler-thread.js';

const THREAD_URL = new URL('./compiler-thread.js', import.meta.url);
/** The compiler's pid inside php.wasm: apart from the workers' (1, 2, …). */
const COMPILER_PROCESS_ID = 999_999;
/** Its JavaScript holds a file list and one batch's answers; php.wasm's memory is bounded by the ceiling. */
const COMPILER_HEAP_MB = 64;

export interface CompileReport {
  scripts: number;
  compiled: number;
  failed: number;
  /** Nothing needed compiling: php.wasm was not booted (see up-to-date.ts). */
  upToDate: boolean;
  ms: number;
}

export interface RunningCompiler {
  done: Promise<CompileReport>;
  /** Ends the thread (the next compile, or the server closing); resolves once it has ended. */
  stop(): Promise<void>;
}

/** The compiler boots as a worker would (startCompiler replaces the mounts); it never serves, so it has no channels. */
export function compilerSettings(boot: Omit<WorkerBoot, 'processId' | 'wasmModule' | 'lockTable' | 'flowBuffer' | 'nativeCallGate'>, wasmModule: WebAssembly.Module): SandboxSettings {
  const { tmpSize: _tmpSize, hostFsCallsChannel: _channel, ...settings } = boot;
  return { ...settings, processId: COMPILER_PROCESS_ID, wasmModule };
}

/**
 * Compiles every PHP file of the site into opcache's file cache (`cacheDir`), in a thread of its
 * own, stopped after `timeoutMs`. `settings` are the workers': the compiler differs only in its
 * mounts (the cache writable, where theirs is read-only so a script can never plant compiled code
 * there; no other, as it reads the docroot only) and in what compiler-thread.ts adds to php.ini.
 * The workers' mounts under /docroot are passed on so the compiler skips what they hide.
 */
export function startCompiler(settings: SandboxSettings, cacheDir: string, timeoutMs: number): RunningCompiler {
  const started = performance.now();
  const data: CompilerData = {
    settings: { ...settings, mounts: [{ host: cacheDir, guest: GUEST_OPCACHE_FILE_CACHE, readOnly: false }] },
    hiddenGuestPaths: settings.mounts.map((mount) => mount.guest),
  };
  const thread = new Worker(THREAD_URL, { workerData: data, resourceLimits: { maxOldGenerationSizeMb: COMPILER_HEAP_MB } });
  const ended = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
  const done = new Promise<CompileReport>((resolve, reject) => {
    const timer = setTimeout(() => { void thread.terminate(); reject(new Error(`compiling took more than ${timeoutMs / 1000} s; stopped`)); }, timeoutMs);
    timer.unref();
    thread.once('message', (message: CompilerMessage) => {
      clearTimeout(timer);
      void thread.terminate();
      if (message.type === 'done') resolve({ scripts: message.scripts, compiled: message.compiled, failed: message.failed, upToDate: message.upToDate, ms: Math.round(performance.now() - started) });
      else reject(new Error(message.error));
    });
    thread.once('error', (error) => { clearTimeout(timer); reject(error); });
    thread.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the compiler thread ended (${code})`)); });
  });
  done.catch(() => {}); // the caller hears of it through `done`; a stopped compile is not an error
  return {
    done,
    async stop() {
      await thread.terminate();
      await ended;
    },
  };
}
