import type { Logger } from 'pino';
import { wasmCodeCalls } from '../php-wasm/v8-wasm-code.js';
import { writeCodeFile } from './cache-file.js';

/** What the writer asks of the pool. */
export interface CodeSource {
  /** No request running or waiting, every worker idle. */
  quiet(): boolean;
  /** Requests handed to workers so far. */
  requestsDispatched(): number;
  /** Does a worker run optimised code yet (a string: cannot tell now)? */
  probeOptimizedCode(): Promise<boolean | string>;
}

/** How often the pool is looked at while a save is due. */
export const CODE_CHECK_MS = 5_000;
/**
 * The second save, with what V8 optimised for the pages visitors asked for since the first (or since
 * the start, when the process began from a saved file). The first comes
 * as soon as anything is optimised: a cache made right after the warm-up already gave nearly the
 * whole gain (first page 2.62 / 2.72 s, against 2.47 / 2.53 s after 80 pages).
 */
export const SECOND_SAVE_AFTER_REQUESTS = 500;

/**
 * Writes php.wasm's optimised machine code for the next start (see cache-file.ts) at a quiet moment:
 * serialising takes the main thread for ~40 ms. Twice per process at most; once when the module
 * came from the cache (the first save would write what was loaded).
 */
export class CodeCacheWriter {
  private saves: number;
  /** Requests dispatched when the last save was made (or the process started from a saved one). */
  private dispatchedAtSave = 0;
  private busy = false;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly root: string,
    private readonly module: WebAssembly.Module,
    private readonly key: string,
    loadedFromCache: boolean,
    private readonly source: CodeSource,
    private readonly log: Logger,
  ) {
    this.saves = loadedFromCache ? 1 : 0;
  }

  start(everyMs = CODE_CHECK_MS): void {
    if (this.done) return;
    this.timer = setInterval(() => void this.check(), everyMs).unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private get done(): boolean {
    return this.saves >= 2;
  }

  /** One look: saves when one is due, the pool is quiet and V8 has optimised code. */
  async check(): Promise<void> {
    if (this.busy || this.done || !this.source.quiet()) return;
    if (this.saves === 1 && this.source.requestsDispatched() - this.dispatchedAtSave < SECOND_SAVE_AFTER_REQUESTS) return;
    this.busy = true;
    try {
      const calls = wasmCodeCalls();
      if (typeof calls === 'string') return this.giveUp(calls, 'info');
      const optimized = await this.source.probeOptimizedCode();
      if (optimized !== true) return; // not yet: V8 optimises in the background as PHP runs
      if (!this.source.quiet()) return;
      const started = performance.now();
      const code = calls.serialize(this.module);
      const serializeMs = Math.round(performance.now() - started);
      const path = writeCodeFile(this.root, this.key, code);
      this.saves++;
      this.dispatchedAtSave = this.source.requestsDispatched();
      this.log.info({ path, bytes: code.byteLength, serializeMs }, "saved php.wasm's optimised machine code for the next start");
      if (this.done) this.stop();
    } catch (error) {
      this.giveUp(String(error), 'warn');
    } finally {
      this.busy = false;
    }
  }

  private giveUp(reason: string, level: 'info' | 'warn'): void {
    this.saves = 2;
    this.stop();
    this.log[level]({ reason }, "php.wasm's machine code is not saved for the next start; it is compiled at each start");
  }
}
