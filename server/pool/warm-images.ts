/**
 * The pool's warm image (see warm-image.ts): written by the first worker that warms up, taken over
 * by every worker started after it is written with the same settings (recycling successors, crash
 * replacements, self-call workers), replaced when the settings change, dropped when code changes.
 *
 * The file sits in a folder of its own (mkdtemp: 0700, random name) in the system's temp folder,
 * never mounted into PHP, and goes with the pool (or, if the server is killed, at a later start: see
 * server-temp-dirs.ts). A worker that opened it keeps reading it after it is replaced (the inode
 * lives until closed); one that comes too late boots as usual.
 *
 * With a kept opcache file cache folder (`kept`), the image is written there instead and outlives
 * the pool: the next start with the same settings takes it for its first worker (kept-image.ts).
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { makeServerTempDir } from '../server-temp-dirs.js';
import { describeKeptImage, findKeptImage, iniAllowsKeptImages, keptImageKey, keptImageTmpPath, placeKeptPages, removeKeptImage, touchKeptImage, type FoundImage, type KeptImages, type KeyedBoot } from './kept-image.js';
import { imageBytes, type WarmImageMeta, type WarmImageRef } from './warm-image.js';

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

/** What a worker's image is to be kept as: the settings it booted with. */
export interface KeptAs {
  boot: KeyedBoot;
  opcacheMb: number | null;
}

/** A kept image found for the current settings. */
export type KeptImage = FoundImage & { keptKey: string };

export class WarmImages {
  private dir: string | undefined;
  /** `keptKey`: the image is also the kept one of that key (its file is in the kept folder). */
  private current: { ref: WarmImageRef; key: string; keptKey?: string } | undefined;
  /** The image being written, and the code changes counted when it was asked for. */
  private taking: { path: string; key: string; codeChanges: number; worker: number; kept?: { keptKey: string; opcacheMb: number | null } } | undefined;
  /** Why images are not kept for the next start any more (the folder refused a write). */
  private notKept: string | undefined;
  private codeChanges = 0;
  private files = 0;
  /** Why images are not used any more (one was refused for a reason that would hold for the next). */
  private disabled: string | undefined;

  constructor(
    private readonly enabled: boolean,
    private readonly log: Logger,
    private readonly kept?: KeptImages,
  ) {}

  /** The image the last run kept for these settings, if there is one to start from. */
  findKept(boot: KeyedBoot): KeptImage | undefined {
    if (!this.enabled || !this.kept) return undefined;
    const keptKey = keptImageKey(this.kept, boot);
    const found = findKeptImage(this.kept, keptKey);
    if ('miss' in found) return void this.log.debug({ reason: found.miss }, 'no warm image kept from the last run to start from');
    return { ...found, keptKey };
  }

  /** Makes a kept image the one workers booting with the settings `key` start from (before any is written). */
  adopt(found: KeptImage, key: string): void {
    if (!this.enabled || this.disabled || this.current) return;
    this.current = { ref: found.ref, key, keptKey: found.keptKey };
    touchKeptImage(this.kept!, found.keptKey, found.ref.path);
    this.log.info({ path: found.ref.path, memoryBytes: found.ref.meta.memoryBytes, opcacheMb: found.opcacheMb }, 'workers start from the warm image kept from the last run');
  }

  /**
   * Where a worker just warmed with the settings `key` should write its image; undefined when no
   * image is wanted (off, one of these settings exists, or one is being written). `keptAs`: what it
   * booted with, to keep the image for the next start too.
   */
  wanted(key: string, worker: number, keptAs?: KeptAs): string | undefined {
    if (!this.enabled || this.disabled || this.taking || this.current?.key === key) return undefined;
    const kept = this.keptPath(keptAs);
    if (kept) {
      this.taking = { path: kept.path, key, codeChanges: this.codeChanges, worker, kept: { keptKey: kept.keptKey, opcacheMb: keptAs!.opcacheMb } };
      return kept.path;
    }
    this.dir ??= makeServerTempDir('image');
    const path = join(this.dir, `image-${++this.files}`);
    this.taking = { path, key, codeChanges: this.codeChanges, worker };
    return path;
  }

  private keptPath(keptAs: KeptAs | undefined): { path: string; keptKey: string } | undefined {
    if (!this.kept || !keptAs || this.notKept || !iniAllowsKeptImages(keptAs.boot.phpIni)) return undefined;
    const keptKey = keptImageKey(this.kept, keptAs.boot);
    try {
      return { path: keptImageTmpPath(this.kept, keptKey), keptKey };
    } catch (error) {
      this.stopKeeping(error);
      return undefined;
    }
  }

  private stopKeeping(error: unknown): void {
    this.notKept = String(error);
    this.log.warn({ error: this.notKept, folder: this.kept?.root }, 'the warm image cannot be kept for the next start; each start warms up its first worker itself');
  }

  /** The worker's answer to `wanted`: the image becomes the one to start from, unless code changed meanwhile. */
  written(answer: Answer): void {
    const taking = this.taking;
    if (taking?.path !== answer.path) return; // not asked for (a path is only ever removed when it is ours)
    this.taking = undefined;
    if ('error' in answer) {
      if (answer.retry) return remove(answer.path);
      // The kept folder's disk, most likely: the next image goes to the temp folder instead.
      if (taking.kept) {
        this.stopKeeping(answer.error);
        return remove(answer.path);
      }
      // Not again: a full disk or a refused folder would fail each next worker's write the same way.
      this.disabled = answer.error;
      this.log.warn({ error: answer.error }, 'a warm worker could not write its memory image; new workers start PHP up and warm up themselves from now on');
      return remove(answer.path);
    }
    // Its opcache may hold code changed since (the warm worker would drop it before its next request; the image never will).
    if (taking.codeChanges !== this.codeChanges) return remove(answer.path);
    this.drop(); // first: the new image may be kept under the same key
    const kept = taking.kept ? this.keep(taking.kept.keptKey, answer, taking.kept.opcacheMb) : { path: answer.path };
    if (!kept) return;
    this.current = { ref: { path: kept.path, meta: answer.meta }, key: taking.key, ...(kept.keptKey ? { keptKey: kept.keptKey } : {}) };
    this.log.debug({ path: answer.path, memoryBytes: answer.meta.memoryBytes, storedBytes: imageBytes(answer.meta) }, 'took a warm memory image for new workers');
  }

  /**
   * Makes a written image the kept one: where it is then, and its key once a start can find it.
   * Undefined when the file is not the image described (removed; no image this time).
   */
  private keep(keptKey: string, answer: { path: string; meta: WarmImageMeta }, opcacheMb: number | null): { path: string; keptKey?: string } | undefined {
    let path: string;
    try {
      path = placeKeptPages(this.kept!, keptKey, answer.path, answer.meta);
    } catch (error) {
      this.stopKeeping(error);
      remove(answer.path);
      return undefined;
    }
    try {
      describeKeptImage(this.kept!, keptKey, path, answer.meta, opcacheMb);
      return { path, keptKey };
    } catch (error) {
      this.stopKeeping(error);
      return { path }; // this run's image all the same; close() removes it
    }
  }

  /** The image for a worker booting with the settings `key`, if there is one. */
  forBoot(key: string): WarmImageRef | undefined {
    return this.current?.key === key ? this.current.ref : undefined;
  }

  /**
   * A worker could not take the image at `path` over. `lasting`: the next image would not fit either,
   * so none is taken again. Of an image that is no longer the current one: nothing to do.
   */
  refused(worker: number, reason: string, lasting: boolean, path: string): void {
    if (this.current && this.current.ref.path !== path) return void this.log.debug({ worker, reason }, 'a worker could not take an image that has been replaced since');
    // Kept pages another server of this site removed, say: a new image is needed, not a cold start for every worker.
    if (this.current?.ref.kept && (lasting || !existsSync(this.current.ref.path))) return this.keptIsStale(reason);
    if (!lasting) return void this.log.debug({ worker, reason }, 'a worker booted without the warm image');
    if (this.disabled) return;
    this.disabled = reason;
    this.log.warn({ worker, reason }, 'a new worker cannot start from the warm memory image; workers start PHP up and warm up themselves from now on');
    this.drop();
  }

  /**
   * The image kept from the last run is not to be started from any more (damaged, gone, or older than
   * what changed since): it goes, and the next worker that warms up writes a new one.
   */
  keptIsStale(reason: string): void {
    if (!this.current?.ref.kept) return;
    this.log.info({ reason }, 'the warm image kept from the last run is dropped; the next worker warms up itself and writes a new one');
    this.drop();
  }

  /** Code changed: neither the image nor one being written may be used. */
  invalidate(): void {
    this.codeChanges++;
    this.drop();
  }

  /**
   * A reload: the image goes, and images are tried again (what stopped them may have been the
   * settings). A kept one stays on disk: it is still right for the settings it was taken with.
   */
  settingsChanged(): void {
    this.disabled = undefined;
    this.codeChanges++;
    this.drop(true);
  }

  /** A worker ended: if it was writing an image, that image will never come (its file goes). */
  workerGone(worker: number): void {
    if (this.taking?.worker !== worker) return;
    remove(this.taking.path);
    this.taking = undefined;
  }

  close(): void {
    // A kept image stays for the next start; anything else written for this run goes.
    if (this.current && !this.current.keptKey) remove(this.current.ref.path);
    if (this.taking?.kept) remove(this.taking.path);
    this.current = undefined;
    this.taking = undefined;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** The current image goes: a kept one from the kept folder too (it would hold what made it go), unless `keepKept`. */
  private drop(keepKept = false): void {
    const current = this.current;
    this.current = undefined;
    if (!current) return;
    if (!current.keptKey) remove(current.ref.path);
    else if (!keepKept) removeKeptImage(this.kept!, current.keptKey, current.ref.path);
  }
}

function remove(path: string): void {
  rmSync(path, { force: true });
}
