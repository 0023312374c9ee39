/**
 * The warm image kept between runs (issue #12, cold start): with a kept opcache file cache folder,
 * the image a warm worker writes (warm-image.ts) is also the next start's, so the first worker of a
 * restarted server starts warm instead of starting PHP up and compiling its first page.
 *
 * Files, in `<opcache file cache>/php.wasm-image/` (beside php.wasm's machine code, outside every
 * folder PHP sees, and read only when nobody but the server's user can write there, see
 * cache-file.ts): `<key>.<random>.pages`, the image's pages, and `<key>.json`, what a restore needs,
 * the pages' name and their SHA-256 (written last: a start finds an image only once it is whole).
 * Each image's pages have a name of their own: a worker given an image opens it by name, and must
 * never find another image's pages there. The key names what the memory was made with: the server's
 * own code, php.wasm, and the workers' boot settings. The site's files are not in it: the restored
 * worker's first request checks its opcache and realpath cache against them (kept-image-refresh.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readTrustedFile, trustedFileSize, trustedFolderForWriting, writeTrustedFile } from '../wasm-code-cache/cache-file.js';
import { runsAreSound } from './image-pages.js';
import type { WorkerBoot } from './messages.js';
import { IMAGE_PAGE_BYTES, imageBytes, type WarmImageMeta, type WarmImageRef } from './warm-image.js';

export const IMAGE_FOLDER = 'php.wasm-image';
const FORMAT = 1;
const MAX_META_BYTES = 4 * 1024 * 1024;
/** wasm32 memory ends at 4 GiB. */
const MAX_PAGES_BYTES = 4 * 1024 ** 3;
/** Images of other keys (another site sharing the folder, older settings) kept beside the current one. */
const KEEP_OTHERS = 2;
/** A temporary file this old is a write that never finished. */
const STALE_TMP_MS = 60 * 60 * 1000;

/** Where images are kept, and what names this server's code and php.wasm (see kept-image-identity.ts). */
export interface KeptImages {
  root: string;
  identity: string;
  /**
   * Host folders of mounts that hold data, not code, and may be fresh at each start (the session
   * folder): their guest paths name the image, their host paths do not.
   */
  unkeyedHosts?: string[];
}

/** The boot settings an image depends on: what PHP read at its start-up and what its memory refers to. */
export type KeyedBoot = Pick<WorkerBoot, 'phpVersion' | 'docroot' | 'mounts' | 'env' | 'phpIni' | 'allowNetwork' | 'connectTo' | 'tmpSize' | 'memoryCeiling'>;

/**
 * The key of images made with these settings. Not in it: the files written into each worker
 * (`boot.files`: they hold this start's self-call token; the worker drops its compiled copies after
 * a restore) and opcache's size, which the image records (the server starts at that size again).
 */
export function keptImageKey(kept: KeptImages, boot: KeyedBoot): string {
  const unkeyed = new Set(kept.unkeyedHosts ?? []);
  // Real paths: a docroot that is a `current` symlink switched to another release is another site.
  const mounts = boot.mounts.map((mount) => ({ ...mount, host: unkeyed.has(mount.host) ? '' : realPath(mount.host) }));
  const sorted = (map: Record<string, string>) => Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const settings = [FORMAT, kept.identity, boot.phpVersion, realPath(boot.docroot), mounts, sorted(boot.env), boot.phpIni, boot.allowNetwork, sorted(boot.connectTo), boot.tmpSize, boot.memoryCeiling];
  return createHash('sha256').update(JSON.stringify(settings)).digest('hex');
}

function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/**
 * Whether workers booting with this php.ini may keep their image for the next start: only while
 * opcache compares files' times (without, a restart is what makes edits show), and without
 * opcache.preload (preloaded code is never compared with its files).
 */
export function iniAllowsKeptImages(phpIni: string): boolean {
  const validate = lastIniValue(phpIni, 'opcache.validate_timestamps');
  const preload = lastIniValue(phpIni, 'opcache.preload');
  return (validate === undefined || /^(1|on|true|yes)$/i.test(validate)) && !preload;
}

/** The value of the last line setting `name` (later lines win, as PHP reads them), unquoted. */
function lastIniValue(phpIni: string, name: string): string | undefined {
  let value: string | undefined;
  for (const line of phpIni.split('\n')) {
    const match = /^\s*([\w.]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (match?.[1] === name) value = match[2]!.replace(/^"(.*)"$/, '$1');
  }
  return value;
}

interface StoredMeta {
  format: number;
  key: string;
  /** opcache.memory_consumption the imaged worker booted with; null when php.ini set it. */
  opcacheMb: number | null;
  /** The pages' file name, in the same folder. */
  pages: string;
  sha256: string;
  bytes: number;
  meta: WarmImageMeta;
}

export interface FoundImage {
  ref: WarmImageRef;
  opcacheMb: number | null;
}

const metaName = (key: string) => `${key}.json`;
const PAGES_NAME = /^([0-9a-f]{64})\.[0-9a-f]{12}\.pages$/;

/** The kept image for `key`, whole and trusted, or why there is none to start from. */
export function findKeptImage(kept: KeptImages, key: string): FoundImage | { miss: string } {
  const file = readTrustedFile(kept.root, metaName(key), MAX_META_BYTES, IMAGE_FOLDER);
  if ('miss' in file) return file;
  let stored: StoredMeta;
  try {
    stored = JSON.parse(file.data.toString('utf8')) as StoredMeta;
  } catch {
    return { miss: `${file.path}: unreadable` };
  }
  const malformed = malformedMeta(stored, key);
  if (malformed) return { miss: `${file.path}: ${malformed}` };
  const pages = trustedFileSize(kept.root, stored.pages, MAX_PAGES_BYTES, IMAGE_FOLDER);
  if ('miss' in pages) return pages;
  if (pages.size !== stored.bytes) return { miss: `${pages.path}: ${pages.size} bytes, its description says ${stored.bytes}` };
  return { ref: { path: pages.path, meta: stored.meta, sha256: stored.sha256, kept: true }, opcacheMb: stored.opcacheMb };
}

function malformedMeta(stored: StoredMeta, key: string): string | undefined {
  if (typeof stored !== 'object' || stored === null || stored.format !== FORMAT || stored.key !== key) return 'made by another version or for other settings';
  if (typeof stored.pages !== 'string' || PAGES_NAME.exec(stored.pages)?.[1] !== key) return 'its pages file name is malformed';
  if (!(stored.opcacheMb === null || (Number.isInteger(stored.opcacheMb) && stored.opcacheMb > 0))) return 'its opcache size is malformed';
  if (typeof stored.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(stored.sha256)) return 'its hash is malformed';
  const meta = stored.meta;
  if (typeof meta !== 'object' || meta === null || !Array.isArray(meta.runs) || !Array.isArray(meta.streams) || typeof meta.globals !== 'object' || meta.globals === null) return 'its description is malformed';
  if (!Number.isInteger(meta.memoryBytes) || meta.memoryBytes % IMAGE_PAGE_BYTES !== 0 || !Number.isInteger(meta.bootedBytes) || !Number.isInteger(meta.tableLength)) return 'its sizes are malformed';
  if (!runsAreSound(meta.runs, meta.memoryBytes / IMAGE_PAGE_BYTES)) return 'its page list is malformed';
  const bytes = imageBytes(meta);
  if (stored.bytes !== bytes) return `its page list holds ${bytes} bytes, it says ${String(stored.bytes)}`;
  return undefined;
}

/** A new file in the image folder for a worker to write an image of `key` into (throws when the folder is not trusted). */
export function keptImageTmpPath(kept: KeptImages, key: string): string {
  return join(trustedFolderForWriting(kept.root, IMAGE_FOLDER), `${key}.${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * Gives the image a worker wrote at `tmpPath` its own name in the image folder (a start does not find
 * it yet: see describeKeptImage). Throws, leaving the file where it was, when it is not the image
 * described (it must then not be used at all).
 */
export function placeKeptPages(kept: KeptImages, key: string, tmpPath: string, meta: WarmImageMeta): string {
  if (!meta.sha256) throw new Error('the image was written without its hash');
  const written = statSync(tmpPath).size;
  if (written !== imageBytes(meta)) throw new Error(`the image file holds ${written} bytes, not ${imageBytes(meta)}`);
  const path = join(trustedFolderForWriting(kept.root, IMAGE_FOLDER), `${key}.${randomBytes(6).toString('hex')}.pages`);
  renameSync(tmpPath, path);
  return path;
}

/**
 * Makes the pages at `pagesPath` (placeKeptPages) the kept image of `key`: its description is
 * written last, so a start finds an image only whole. Then removes what no one should need any
 * more (see prune); a failure there is the next commit's to retry.
 */
export function describeKeptImage(kept: KeptImages, key: string, pagesPath: string, meta: WarmImageMeta, opcacheMb: number | null): void {
  const stored: StoredMeta = { format: FORMAT, key, opcacheMb, pages: basename(pagesPath), sha256: meta.sha256!, bytes: imageBytes(meta), meta };
  writeTrustedFile(kept.root, metaName(key), Buffer.from(JSON.stringify(stored)), IMAGE_FOLDER);
  try {
    prune(join(kept.root, IMAGE_FOLDER), key, basename(pagesPath));
  } catch {
    // Another server pruning the same folder at once, say: nothing is lost by leaving files a while.
  }
}

/** The one a start takes is marked as just used (description and pages): pruning keeps the newest images, and pages in use a while. */
export function touchKeptImage(kept: KeptImages, key: string, pagesPath: string): void {
  const now = new Date();
  for (const path of [join(kept.root, IMAGE_FOLDER, metaName(key)), pagesPath]) {
    try {
      utimesSync(path, now, now);
    } catch {
      // Gone meanwhile: the worker says so when it cannot open the pages.
    }
  }
}

/** Removes the kept image of `key` whose pages are at `pagesPath` (its description first: a start never finds pages without one). */
export function removeKeptImage(kept: KeptImages, key: string, pagesPath: string): void {
  const folder = join(kept.root, IMAGE_FOLDER);
  if (describedPages(folder, key) === basename(pagesPath)) rmSync(join(folder, metaName(key)), { force: true });
  rmSync(pagesPath, { force: true });
}

/** The pages file the description of `key` names, if it can be read. */
function describedPages(folder: string, key: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(folder, metaName(key)), 'utf8')) as Partial<StoredMeta>).pages;
  } catch {
    return undefined;
  }
}

/**
 * For other keys, everything but the newest KEEP_OTHERS images; pages no description names (of
 * `current` too, but `keep`), once neither written nor taken by a start for an hour (another server
 * of this site, in a restart that overlaps, may be starting from them); temporary files of writes
 * that never finished.
 */
function prune(folder: string, current: string, keep: string): void {
  const now = Date.now();
  const newest = new Map<string, number>();
  const pages: Array<{ name: string; key: string; mtimeMs: number }> = [];
  for (const name of readdirSync(folder)) {
    const stat = lstatSync(join(folder, name), { throwIfNoEntry: false });
    if (!stat) continue;
    if (name.endsWith('.tmp')) {
      if (now - stat.mtimeMs > STALE_TMP_MS) rmSync(join(folder, name), { force: true });
      continue;
    }
    const key = name.endsWith('.json') ? name.slice(0, -'.json'.length) : PAGES_NAME.exec(name)?.[1];
    if (key === undefined) continue;
    if (name.endsWith('.pages')) pages.push({ name, key, mtimeMs: stat.mtimeMs });
    if (key !== current) newest.set(key, Math.max(newest.get(key) ?? 0, stat.mtimeMs));
  }
  const dropped = new Set([...newest].sort((a, b) => b[1] - a[1]).slice(KEEP_OTHERS).map(([key]) => key));
  for (const key of dropped) rmSync(join(folder, metaName(key)), { force: true });
  for (const page of pages) {
    const unnamed = page.name !== keep && describedPages(folder, page.key) !== page.name && now - page.mtimeMs > STALE_TMP_MS;
    if (dropped.has(page.key) || unnamed) rmSync(join(folder, page.name), { force: true });
  }
}
