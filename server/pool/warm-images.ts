/**
 * The pool's warm image (see warm-image.ts): written by the first worker that warms up, taken over
 * by every worker started after it is written with the same settings (recycling successors, crash
 * replacements, self-call workers), replaced when the settings change, dropped when code changes.
 *
 * The file sits in a folder of its own (mkdtemp: 0700, random name) in the system's temp folder,
 * never mounted into PHP, and goes with the pool (or, if the server is killed, at a later start: see
 * server-temp-dirs.ts). A worker that opened it keeps reading it after it is replaced (the inode
 * lives until closed); one that comes too late boots as usual.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { makeServerTempDir } from '../server-temp-dirs.js';
import { IMAGE_PAGE_BYTES, type WarmImageMeta, type WarmImageRef } from './warm-image.js';

/**
 * Workers started from one image draw different random numbers only where PHP seeds mt_rand and
 * lcg_value in every request (ext/random's RINIT, PHP 8.2 on); before, lcg_value was seeded once per
 * process, and the image would hand every worker the same state.
 */
export function imagesKeepRandomnessApart(phpVersion: string): boolean {
  const [major, minor] = phpVersion.split('.').map(Number);
  return major > 8 || (major === 8 && minor >= 2);
}

type Answer = { path: string; meta: WarmImageMeta } | { path: string; error: string; retry?: boolean };

export class WarmImages {
  private dir: string | undefined;
  private current: { ref: WarmImageRef; key: string } | undefined;
  /** The image being written, and the code changes counted when it was asked for. */
  private taking: { path: string; key: string; codeChanges: number; worker: number } | undefined;
  private codeChanges = 0;
  private files = 0;
  /** Why images are not used any more (one was refused for a reason that would hold for the next). */
  private disabled: string | undefined;

  constructor(
    private readonly enabled: boolean,
    private readonly log: Logger,
  ) {}

  /**
   * Where a worker just warmed with the settings `key` should write its image; undefined when no
   * image is wanted (off, one of these settings exists, or one is being written).
   */
  wanted(key: string, worker: number): string | undefined {
    if (!this.enabled || this.disabled || this.taking || this.current?.key === key) return undefined;
    this.dir ??= makeServerTempDir('image');
    const path = join(this.dir, `image-${++this.files}`);
    this.taking = { path, key, codeChanges: this.codeChanges, worker };
    return path;
  }

  /** The worker's answer to `wanted`: the image becomes the one to start from, unless code changed meanwhile. */
  written(answer: Answer): void {
    const taking = this.taking;
    if (taking?.path !== answer.path) return; // not asked for (a path is only ever removed when it is ours)
    this.taking = undefined;
    if ('error' in answer) {
      if (answer.retry) return remove(answer.path);
      // Not again: a full disk or a refused folder would fail each next worker's write the same way.
      this.disabled = answer.error;
      this.log.warn({ error: answer.error }, 'a warm worker could not write its memory image; new workers start PHP up and warm up themselves from now on');
      return remove(answer.path);
    }
    // Its opcache may hold code changed since (the warm worker would drop it before its next request; the image never will).
    if (taking.codeChanges !== this.codeChanges) return remove(answer.path);
    this.drop();
    this.current = { ref: { path: answer.path, meta: answer.meta }, key: taking.key };
    const storedBytes = answer.meta.runs.reduce((sum, run) => sum + run.count, 0) * IMAGE_PAGE_BYTES;
    this.log.debug({ path: answer.path, memoryBytes: answer.meta.memoryBytes, storedBytes }, 'took a warm memory image for new workers');
  }

  /** The image for a worker booting with the settings `key`, if there is one. */
  forBoot(key: string): WarmImageRef | undefined {
    return this.current?.key === key ? this.current.ref : undefined;
  }

  /** A worker could not take the image over. `lasting`: the next image would not fit either, so none is taken again. */
  refused(worker: number, reason: string, lasting: boolean): void {
    if (!lasting) return void this.log.debug({ worker, reason }, 'a worker booted without the warm image');
    if (this.disabled) return;
    this.disabled = reason;
    this.log.warn({ worker, reason }, 'a new worker cannot start from the warm memory image; workers start PHP up and warm up themselves from now on');
    this.drop();
  }

  /** Code changed: neither the image nor one being written may be used. */
  invalidate(): void {
    this.codeChanges++;
    this.drop();
  }

  /** A reload: the image goes, and images are tried again (what stopped them may have been the settings). */
  settingsChanged(): void {
    this.disabled = undefined;
    this.invalidate();
  }

  /** A worker ended: if it was writing an image, that image will never come (its file goes). */
  workerGone(worker: number): void {
    if (this.taking?.worker !== worker) return;
    remove(this.taking.path);
    this.taking = undefined;
  }

  close(): void {
    this.current = undefined;
    this.taking = undefined;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  private drop(): void {
    if (this.current) remove(this.current.ref.path);
    this.current = undefined;
  }
}

function remove(path: string): void {
  rmSync(path, { force: true });
}
