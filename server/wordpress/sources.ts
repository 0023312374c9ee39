/**
 * What a new site is assembled from (--wordpress-version, --wordpress-mirror): a current WordPress
 * fetched by the server and verified against the SHA-1 WordPress.org publishes beside each archive,
 * kept in a cache so it is fetched once; the SQLite plugin's latest stable release likewise (it has
 * no published checksum: what is verified is that it is a whole ZIP holding the plugin, and its
 * version and SHA-256 are logged). Without the network, `latest` falls back to the cached latest, then
 * to the build bundled in the npm package; an explicit version that cannot be had is an error.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path, { join } from 'node:path';
import AdmZip from 'adm-zip';
import type { Logger } from 'pino';
import { downloadFile, fetchText, DownloadError, type DownloadLimits } from './download.js';

export const DEFAULT_MIRROR = 'https://wordpress.org';
/** A cache filled when a container image is built (see prefetch.ts), relative to the project. */
export const SEED_CACHE = join('var', 'seed-cache');
/** Where WordPress.org serves plugins (a custom mirror serves them under its own /plugin/). */
const PLUGIN_HOST = 'https://downloads.wordpress.org';
const SQLITE_PLUGIN_SLUG = 'sqlite-database-integration';

const ARCHIVE_LIMITS: DownloadLimits = { maxBytes: 200 * 1024 * 1024, timeoutMs: 300_000 };
const CHECKSUM_LIMITS: DownloadLimits = { maxBytes: 1024, timeoutMs: 20_000 };

/** A WordPress ZIP to assemble from; `bundled` (absent zip): the npm package's build. */
export interface ChosenSource {
  /** Absent: the bundled build. */
  zip?: string;
  /** The WordPress version in the ZIP (unknown for a bundled or local file until unpacked). */
  version?: string;
  /** Why the bundled build is used instead of what was asked (for the log and the admin notice). */
  fallbackReason?: string;
}

/** --wordpress-version: `latest`, `bundled`, `X.Y[.Z]` or a path to a ZIP. */
export function parseWordPressVersion(value: string): { kind: 'latest' | 'bundled' } | { kind: 'version'; version: string } | { kind: 'file'; file: string } | null {
  if (value === 'latest' || value === 'bundled') return { kind: value };
  if (/^\d+\.\d+(\.\d+)?$/.test(value)) return { kind: 'version', version: value };
  if (value.toLowerCase().endsWith('.zip')) return { kind: 'file', file: value };
  return null;
}

/** cache/index.json: what the cached archives are. */
interface CacheIndex {
  /** The version `latest` last resolved to. */
  latest?: string;
  /** Version → the SHA-1 its archive (wordpress-VERSION.zip) was verified against. */
  sha1?: Record<string, string>;
}

/**
 * The WordPress core archive for a new site. `cacheDir` is where fetched archives are kept;
 * `seedDir`, a cache filled when the image was built (read only), is looked in too.
 */
export async function chooseWordPress(request: string, mirror: string, cacheDir: string, log: Logger, seedDir?: string): Promise<ChosenSource> {
  const parsed = parseWordPressVersion(request);
  if (!parsed) throw new Error(`--wordpress-version must be latest, bundled, X.Y.Z or a .zip file; got "${request}"`);
  if (parsed.kind === 'bundled') return {};
  if (parsed.kind === 'file') {
    if (!existsSync(parsed.file)) throw new Error(`--wordpress-version: no such file ${parsed.file}`);
    return { zip: path.resolve(parsed.file) };
  }
  const base = mirror.replace(/\/+$/, '');
  if (parsed.kind === 'version') {
    await mkdir(cacheDir, { recursive: true });
    const cached = [cacheDir, seedDir].map((dir) => dir && cachedCore(dir, parsed.version)).find((file) => file && existsSync(file));
    if (cached) return { zip: cached, version: parsed.version };
    const fetched = await fetchCore(`${base}/wordpress-${parsed.version}.zip`, cacheDir, log, seedDir);
    if (fetched.version !== parsed.version) throw new Error(`${base}/wordpress-${parsed.version}.zip holds WordPress ${fetched.version}, not ${parsed.version}`);
    return fetched;
  }
  try {
    await mkdir(cacheDir, { recursive: true });
    const fetched = await fetchCore(`${base}/latest.zip`, cacheDir, log, seedDir);
    await writeIndex(cacheDir, { ...(await readIndex(cacheDir)), latest: fetched.version });
    return fetched;
  } catch (error) {
    const reason = (error as Error).message;
    for (const dir of [cacheDir, seedDir]) {
      const known = dir && (await readIndex(dir)).latest;
      if (dir && known && existsSync(cachedCore(dir, known))) {
        log.warn({ reason, version: known }, `could not fetch the latest WordPress; using the cached ${known}`);
        return { zip: cachedCore(dir, known), version: known };
      }
    }
    log.warn({ reason }, 'could not fetch the latest WordPress; assembling the bundled build');
    return { fallbackReason: reason };
  }
}

/**
 * Fetches a core archive and its published .sha1, verifies it, and keeps it in the cache under its
 * version (read from the archive); an archive cached with the same checksum is not fetched again.
 */
async function fetchCore(url: string, cacheDir: string, log: Logger, seedDir?: string): Promise<ChosenSource> {
  const published = (await fetchText(`${url}.sha1`, CHECKSUM_LIMITS)).trim().toLowerCase();
  if (!/^[0-9a-f]{40}$/.test(published)) throw new DownloadError(`${url}.sha1 is not a SHA-1 checksum`);
  for (const dir of [cacheDir, seedDir]) {
    if (!dir) continue;
    const known = Object.entries((await readIndex(dir)).sha1 ?? {}).find(([version, sha1]) => sha1 === published && existsSync(cachedCore(dir, version)));
    if (known) return { zip: cachedCore(dir, known[0]), version: known[0] };
  }
  const index = await readIndex(cacheDir);

  const download = path.join(cacheDir, 'wordpress-download.zip');
  const started = performance.now();
  const { bytes } = await downloadFile(url, download, ARCHIVE_LIMITS, published);
  let version: string;
  try {
    version = coreVersion(download);
  } catch (error) {
    await rm(download, { force: true });
    throw new DownloadError(`${url}: ${(error as Error).message}`);
  }
  await rename(download, cachedCore(cacheDir, version));
  await writeIndex(cacheDir, { ...(await readIndex(cacheDir)), sha1: { ...index.sha1, [version]: published } });
  log.info({ url, version, bytes, sha1: published, ms: Math.round(performance.now() - started) }, `WordPress ${version} downloaded; its SHA-1 matches the published one`);
  return { zip: cachedCore(cacheDir, version), version };
}

/** The version a core archive announces in wp-includes/version.php. */
export function coreVersion(zipFile: string): string {
  const zip = new AdmZip(zipFile);
  const entry = zip.getEntries().find((e) => /^(?:[^/]+\/)?wp-includes\/version\.php$/.test(e.entryName));
  const version = entry && /\$wp_version\s*=\s*'([^']+)'/.exec(entry.getData().toString('utf8'))?.[1];
  if (!version) throw new Error('not a WordPress archive (no wp-includes/version.php with $wp_version)');
  return version;
}

function cachedCore(cacheDir: string, version: string): string {
  return path.join(cacheDir, `wordpress-${version}.zip`);
}

async function readIndex(cacheDir: string): Promise<CacheIndex> {
  try {
    return JSON.parse(await readFile(path.join(cacheDir, 'index.json'), 'utf8')) as CacheIndex;
  } catch {
    return {};
  }
}

async function writeIndex(cacheDir: string, index: CacheIndex): Promise<void> {
  const file = path.join(cacheDir, 'index.json');
  await writeFile(`${file}.${process.pid}`, JSON.stringify(index));
  await rename(`${file}.${process.pid}`, file);
}

/**
 * The SQLite plugin's latest stable release, for a site assembled from a fetched WordPress (the
 * bundled plugin was built for the bundled WordPress). Undefined (the bundled plugin) when it cannot
 * be had; the reason is logged.
 */
export async function chooseSqlitePlugin(mirror: string, cacheDir: string, log: Logger, seedDir?: string): Promise<string | undefined> {
  const base = mirror.replace(/\/+$/, '');
  const url = base === DEFAULT_MIRROR ? `${PLUGIN_HOST}/plugin/${SQLITE_PLUGIN_SLUG}.zip` : `${base}/plugin/${SQLITE_PLUGIN_SLUG}.zip`;
  const download = path.join(cacheDir, `${SQLITE_PLUGIN_SLUG}-latest.zip`);
  try {
    await mkdir(cacheDir, { recursive: true });
    await downloadFile(url, download, { maxBytes: 50 * 1024 * 1024, timeoutMs: 120_000 });
    const { version, sha256 } = await sqlitePluginVersion(download);
    const cached = path.join(cacheDir, `${SQLITE_PLUGIN_SLUG}-${version}.zip`);
    await rename(download, cached);
    log.info({ url, version, sha256 }, 'SQLite Database Integration downloaded (no checksum is published: checked that it is the whole plugin)');
    return cached;
  } catch (error) {
    await rm(download, { force: true });
    const cached = newestCachedPlugin([cacheDir, seedDir]);
    log.warn({ url, reason: (error as Error).message, using: cached ?? 'bundled' }, `could not fetch the SQLite plugin; using ${cached ? 'the cached one' : 'the bundled one'}`);
    return cached;
  }
}

/** The highest version among cached plugin archives. */
function newestCachedPlugin(dirs: Array<string | undefined>): string | undefined {
  const found = dirs.flatMap((dir) => {
    if (!dir || !existsSync(dir)) return [];
    return readdirSync(dir).flatMap((name) => {
      const version = new RegExp(`^${SQLITE_PLUGIN_SLUG}-(\\d[\\w.-]*)\\.zip$`).exec(name)?.[1];
      return version ? [{ file: path.join(dir, name), version }] : [];
    });
  });
  found.sort((a, b) => a.version.localeCompare(b.version, 'en', { numeric: true }));
  return found.at(-1)?.file;
}

/** Reads the plugin's version from load.php after checking the files assembly needs are there. */
async function sqlitePluginVersion(zipFile: string): Promise<{ version: string; sha256: string }> {
  const zip = new AdmZip(zipFile);
  const names = zip.getEntries().map((e) => e.entryName.replace(/^[^/]+\//, ''));
  for (const required of ['load.php', 'db.copy', 'wp-includes/sqlite/db.php']) {
    if (!names.includes(required)) throw new DownloadError(`not the SQLite plugin: no ${required}`);
  }
  const load = zip.getEntries().find((e) => e.entryName.replace(/^[^/]+\//, '') === 'load.php')!.getData().toString('utf8');
  if (!/Plugin Name:\s*SQLite Database Integration/i.test(load)) throw new DownloadError('not the SQLite plugin: load.php names another plugin');
  const version = /^\s*\*?\s*Version:\s*([\w.-]+)/m.exec(load)?.[1];
  if (!version) throw new DownloadError('the SQLite plugin names no version');
  return { version, sha256: createHash('sha256').update(await readFile(zipFile)).digest('hex') };
}
