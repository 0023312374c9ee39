import { Worker } from 'node:worker_threads';
import type { SandboxSettings } from '../pool/php-instance.js';
import { GUEST_OPCACHE_FILE_CACHE } from './cache-folder.js';
import type { CompilerData, CompilerResult } from './compiler-thread.js';

const THREAD_URL = new URL('./compiler-thread.js', import.meta.url);

export interface CompileReport {
  scripts: number;
  compiled: number;
  failed: number;
  ms: number;
}

export interface RunningCompile {
  done: Promise<CompileReport>;
  /** Ends the thread (the server is closing); done then rejects. */
  stop(): Promise<void>;
}

/**
 * Compiles every PHP file of the site into opcache's file cache (`cacheDir`), in a thread of its
 * own, stopped after `timeoutMs`. `settings` are the workers': the compiler differs only in its
 * cache mount (writable; theirs is read-only, so a script can never plant compiled code there) and
 * in what compiler-thread.ts adds to php.ini. It takes no other mount: it compiles the docroot only.
 */
export function compileSite(settings: SandboxSettings, cacheDir: string, timeoutMs: number): RunningCompile {
  const started = performance.now();
  const data: CompilerData = {
    settings: { ...settings, mounts: [{ host: cacheDir, guest: GUEST_OPCACHE_FILE_CACHE, readOnly: false }] },
  };
  const thread = new Worker(THREAD_URL, { workerData: data });
  let stopped = false;
  const done = new Promise<CompileReport>((resolve, reject) => {
    const timer = setTimeout(() => { void thread.terminate(); reject(new Error(`compiling took more than ${timeoutMs / 1000} s; stopped`)); }, timeoutMs);
    timer.unref();
    thread.once('message', (result: CompilerResult) => {
      clearTimeout(timer);
      void thread.terminate();
      if (result.type === 'done') resolve({ scripts: result.scripts, compiled: result.compiled, failed: result.failed, ms: Math.round(performance.now() - started) });
      else reject(new Error(result.error));
    });
    thread.once('error', (error) => { clearTimeout(timer); reject(error); });
    thread.once('exit', (code) => { clearTimeout(timer); reject(new Error(stopped ? 'stopped' : `the compiler thread exited (${code})`)); });
  });
  return {
    done,
    async stop() {
      stopped = true;
      await thread.terminate();
      await done.catch(() => {});
    },
  };
}
