import type { Logger } from 'pino';
import type { SandboxSettings } from '../pool/php-instance.js';
import { prepareOpcacheFileCache, type OpcacheFileCacheFolder } from './cache-folder.js';
import { startCompiler, type RunningCompiler } from './compiler.js';

/** A compile of a big site on a busy machine: past this it is stopped (workers then compile as before). */
const COMPILE_TIMEOUT_MS = 10 * 60_000;
/** How often to look whether every worker has started (the compile waits for that). */
const POLL_MS = 250;
/** Changed paths deleted one by one from the folder in a minute; past it the folder is emptied. */
export const MAX_FORGOTTEN = 10_000;
const FORGET_WINDOW_MS = 60_000;

export type CompileOutcome = 'done' | 'failed';

/** Hears how each compile ended (metrics); a compile stopped for the next one or by close() is neither. */
export interface CompileObserver {
  siteCompiled(outcome: CompileOutcome): void;
}

/** What the compiler needs of the pool: whether workers are still starting. */
export interface StartingWorkers {
  readonly stats: { starting: number; closing: boolean };
}

/**
 * opcache's file cache for the site's workers: the folder (emptied when what is in it must not be
 * loaded), filled by the compiler (compiler.ts) once every worker has started, so it never takes CPU
 * from a worker warming up. A compile still running is stopped, and waited for, before the next one
 * and before the folder is emptied.
 */
export class SiteCompiler {
  private readonly folder: OpcacheFileCacheFolder;
  private running?: RunningCompiler;
  private stopping: Promise<void> = Promise.resolve();
  private waiting?: NodeJS.Timeout;
  private closed = false;
  private forgotten = 0;
  private forgetWindowStart = 0;
  private forgetAfterCompile: string[] = [];
  private ended = 0;
  private emptiedSinceCompile = false;

  constructor(configured: string | undefined, docroot: string, mountHosts: string[], private readonly log: Logger, private readonly observer?: CompileObserver) {
    this.folder = prepareOpcacheFileCache(configured, docroot, mountHosts);
  }

  get path(): string {
    return this.folder.path;
  }

  /** Compiles that ended (each thread's memory freed): memory worth returning (see pool/quiet-trim.ts). */
  get compilesEnded(): number {
    return this.ended;
  }

  /**
   * Before workers start: files compiled under other settings go; and with opcache.validate_timestamps
   * off workers would load a compiled file however old (measured: an edited script kept its old
   * output), so then everything goes.
   */
  async beforeWorkersStart(settings: { phpIni: string; phpVersion: string; validateTimestamps: boolean }): Promise<void> {
    await this.stopRunning();
    this.folder.matchSettings(settings.phpIni, settings.phpVersion);
    if (!settings.validateTimestamps) this.folder.empty();
  }

  /** Compiles the site once `pool` has no worker starting; `settings` as a worker boots with. */
  compileWhenStarted(pool: StartingWorkers, settings: SandboxSettings): void {
    void this.stopRunning();
    const check = () => {
      this.waiting = undefined;
      if (this.closed || pool.stats.closing) return;
      if (pool.stats.starting > 0) {
        this.waiting = setTimeout(check, POLL_MS).unref();
        return;
      }
      void this.stopping.then(() => { if (!this.closed) this.compile(settings); });
    };
    check();
  }

  /**
   * PHP changed code files or moved folders into place (see pool/code-writes.ts): their compiled
   * copies go, or a worker started later would load them; with opcache.validate_timestamps off,
   * unchecked. Workers cannot delete them (the folder is read-only to them). Bounded: past
   * MAX_FORGOTTEN paths in a minute (a script writing files in a loop) the folder is emptied, and
   * workers compile what they run until the next compile. A compile running now may have read a file
   * before it changed: what it forgets is forgotten again when that compile ends.
   */
  forget(guestPaths: string[]): void {
    if (this.emptiedSinceCompile) return;
    const now = Date.now();
    if (now - this.forgetWindowStart >= FORGET_WINDOW_MS) {
      this.forgetWindowStart = now;
      this.forgotten = 0;
    }
    this.forgotten += guestPaths.length;
    try {
      if (this.forgotten <= MAX_FORGOTTEN) {
        this.folder.forget(guestPaths);
        if (this.running) this.forgetAfterCompile.push(...guestPaths);
        return;
      }
      this.folder.empty();
      this.emptiedSinceCompile = true;
      this.forgetAfterCompile = [];
      this.log.info({ paths: this.forgotten }, 'opcache file cache: PHP changed more code files than are deleted one by one; emptied until the next compile');
    } catch (error) {
      this.log.warn({ paths: guestPaths.length, error: String(error) }, "could not delete changed files' compiled copies from opcache's file cache");
    }
  }

  /** A compile that ran while PHP changed code may have written old copies back: they go again. */
  private afterCompile(): void {
    const again = this.forgetAfterCompile;
    this.forgetAfterCompile = [];
    try {
      if (this.emptiedSinceCompile) this.folder.empty();
      else if (again.length) this.folder.forget(again);
    } catch (error) {
      this.log.warn({ error: String(error) }, "could not delete changed files' compiled copies from opcache's file cache");
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.stopRunning();
    this.folder.dispose();
  }

  private compile(settings: SandboxSettings): void {
    let compiler: RunningCompiler;
    try {
      compiler = startCompiler(settings, this.folder.path, COMPILE_TIMEOUT_MS);
    } catch (error) {
      this.log.warn({ err: error }, 'opcache file cache: the compiler did not start; workers compile what they run');
      this.observer?.siteCompiled('failed');
      return;
    }
    this.running = compiler;
    this.emptiedSinceCompile = false;
    compiler.done.then(
      (report) => {
        this.log.info({ ...report, folder: this.folder.path }, 'opcache file cache: site compiled');
        this.observer?.siteCompiled('done');
      },
      (error: unknown) => {
        if (this.running !== compiler || this.closed) return; // stopped on purpose
        this.log.warn({ err: error }, 'opcache file cache: compiling the site failed; workers compile what they run');
        this.observer?.siteCompiled('failed');
      },
    ).finally(() => {
      if (this.running === compiler) this.running = undefined;
      this.ended++;
      this.afterCompile();
    });
  }

  /** Stops the waiting and the running compile; resolves once its thread has ended (it may be writing). */
  private stopRunning(): Promise<void> {
    if (this.waiting) clearTimeout(this.waiting);
    this.waiting = undefined;
    const running = this.running;
    this.running = undefined;
    if (running) this.stopping = Promise.all([this.stopping, running.stop()]).then(() => {});
    return this.stopping;
  }
}
