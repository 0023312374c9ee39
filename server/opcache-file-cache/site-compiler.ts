import type { Logger } from 'pino';
import type { SandboxSettings } from '../pool/php-instance.js';
import { prepareOpcacheFileCache, type OpcacheFileCacheFolder } from './cache-folder.js';
import { compileSite, type RunningCompile } from './compiler.js';

/** A compile of a big site on a busy machine: past this it is stopped (workers then compile as before). */
const COMPILE_TIMEOUT_MS = 10 * 60_000;
/** How often to look whether every worker has started (the compile waits for that). */
const POLL_MS = 250;

export type CompileResult = 'done' | 'failed';

/** Hears how each compile ended (metrics); a compile stopped for the next one or by close() is neither. */
export interface CompileObserver {
  siteCompiled(result: CompileResult): void;
}

/** What the compiler needs of the pool: whether workers are still starting. */
export interface StartingWorkers {
  readonly stats: { starting: number; closing: boolean };
}

/**
 * opcache's file cache for the site's workers: the folder, emptied when they will never check
 * timestamps, and filled by the compiler (compiler.ts) once every worker has started, so it never
 * takes CPU from a worker warming up. A compile already running is stopped for the next one.
 */
export class SiteCompiler {
  private readonly folder: OpcacheFileCacheFolder;
  private running?: RunningCompile;
  private waiting?: NodeJS.Timeout;
  private closed = false;

  constructor(configured: string | undefined, docroot: string, private readonly log: Logger, private readonly observer?: CompileObserver) {
    this.folder = prepareOpcacheFileCache(configured, docroot);
  }

  get path(): string {
    return this.folder.path;
  }

  /**
   * Before workers start: with opcache.validate_timestamps off they would load a compiled file
   * however old (measured: an edited script kept its old output), so the folder is emptied.
   */
  beforeWorkersStart(validateTimestamps: boolean): void {
    if (validateTimestamps) return;
    this.stopRunning();
    this.folder.empty();
  }

  /** Compiles the site once `pool` has no worker starting; `settings` as a worker boots with. */
  compileWhenStarted(pool: StartingWorkers, settings: SandboxSettings): void {
    this.stopRunning();
    const check = () => {
      this.waiting = undefined;
      if (this.closed || pool.stats.closing) return;
      if (pool.stats.starting > 0) {
        this.waiting = setTimeout(check, POLL_MS).unref();
        return;
      }
      const compile = compileSite(settings, this.folder.path, COMPILE_TIMEOUT_MS);
      this.running = compile;
      compile.done.then(
        (report) => {
          this.log.info({ ...report, folder: this.folder.path }, 'opcache file cache: site compiled');
          this.observer?.siteCompiled('done');
        },
        (error: unknown) => {
          if (this.running !== compile || this.closed) return; // stopped on purpose
          this.log.warn({ err: error }, 'opcache file cache: compiling the site failed; workers compile what they run');
          this.observer?.siteCompiled('failed');
        },
      ).finally(() => { if (this.running === compile) this.running = undefined; });
    };
    check();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.waiting) clearTimeout(this.waiting);
    await this.running?.stop();
    this.folder.dispose();
  }

  private stopRunning(): void {
    if (this.waiting) clearTimeout(this.waiting);
    this.waiting = undefined;
    const running = this.running;
    this.running = undefined;
    void running?.stop();
  }
}
