import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, isAbsolute, posix } from 'node:path';
import { ConfigError } from '../config/coerce.js';
import { preparePrivateDir } from '../config/private-dir.js';

/** Where workers see the site's compiled scripts (read-only to them; see compiler.ts). */
export const GUEST_OPCACHE_FILE_CACHE = '/var/cache/php-opcache';

/** What the compiled files were made with, in the site folder (see matchSettings). */
const STAMP_FILE = 'compiled-with';

const PHP_WASM_VERSION: string = (createRequire(import.meta.url)('@php-wasm/node/package.json') as { version: string }).version;

export interface OpcacheFileCacheFolder {
  /** This site's folder: opcache's file_cache for the workers, written only by the compiler. */
  path: string;
  /** Deletes every compiled script. */
  empty(): void;
  /** Deletes the compiled copies of guest files, and of everything under guest folders (PHP changed them). */
  forget(guestPaths: string[]): void;
  /**
   * Empties the folder unless its files were compiled with these settings: opcache checks a file's
   * modification time only, so code compiled under another php.ini (short_open_tag,
   * zend.assertions, the optimizer) or another php.wasm would be loaded as if current.
   */
  matchSettings(phpIni: string, phpVersion: string): void;
  dispose(): void;
}

/**
 * One subfolder per site, named after the docroot's real path: opcache keys its files by guest path
 * (/docroot/wp-config.php), which is the same for every site, and with an equal modification time
 * one site's workers would load another's compiled wp-config.php. The site lock (site-lock.ts) keeps
 * a second server off the same docroot, so one server at a time writes a subfolder.
 *
 * Refused (exit 2) inside the docroot or a mount, or holding one: PHP could write there and plant
 * compiled code that every worker runs. A configured folder others could write until now is emptied.
 */
export function prepareOpcacheFileCache(configured: string | undefined, docroot: string, mountHosts: string[] = []): OpcacheFileCacheFolder {
  if (configured !== undefined) refuseOverlap(configured, [docroot, ...mountHosts]);
  const root = preparePrivateDir(configured, 'opcacheFileCache', 'php-wasm-server-opcache-');
  const site = createHash('sha256').update(realpathSync(docroot)).digest('hex').slice(0, 16);
  const path = join(root.path, site);
  try {
    if (root.wasShared) emptyFolder(root.path);
    mkdirSync(path, { recursive: true, mode: 0o700 });
    if (!lstatSync(path).isDirectory()) throw new ConfigError('opcacheFileCache', 'must hold only folders the server made (found something else at the site\'s folder)', path, 'settings');
  } catch (error) {
    root.dispose();
    throw error;
  }
  return {
    path,
    empty: () => emptyFolder(path),
    forget(guestPaths) {
      const systemIds = readdirSync(path, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
      for (const guestPath of guestPaths) {
        for (const compiled of compiledCopies(path, systemIds, guestPath)) rmSync(compiled, { recursive: true, force: true });
      }
    },
    matchSettings(phpIni, phpVersion) {
      const stamp = createHash('sha256').update(`${PHP_WASM_VERSION}\n${phpVersion}\n${phpIni}`).digest('hex');
      let current: string | undefined;
      try {
        current = readFileSync(join(path, STAMP_FILE), 'utf8');
      } catch {
        current = undefined;
      }
      if (current === stamp) return;
      emptyFolder(path);
      writeFileSync(join(path, STAMP_FILE), stamp, { mode: 0o600 });
    },
    dispose: () => root.dispose(),
  };
}

/**
 * Where opcache's file cache keeps what it compiled from a guest path: `<system id>/<guest path>.bin`
 * for a file, `<system id>/<guest path>/` for a folder's files (a path ending in `/`). Only a plain
 * absolute path (no `..`, not the root) names anything: nothing outside the site's folder is ever named.
 */
export function compiledCopies(siteFolder: string, systemIds: string[], guestPath: string): string[] {
  const path = guestPath.endsWith('/') ? guestPath.slice(0, -1) : guestPath; // a folder (see pool/code-writes.ts)
  if (!path.startsWith('/') || path === '/' || posix.normalize(path) !== path || path.includes('\0')) return [];
  return systemIds.flatMap((id) => [join(siteFolder, id, `${path}.bin`), join(siteFolder, id, path)]);
}

function emptyFolder(path: string): void {
  for (const entry of readdirSync(path)) rmSync(join(path, entry), { recursive: true, force: true });
}

function refuseOverlap(configured: string, phpFolders: string[]): void {
  const folder = overlappingFolder(configured, phpFolders);
  if (folder !== undefined) {
    throw new ConfigError('opcacheFileCache', `must be outside the docroot and every mount, and hold none of them (PHP could plant compiled code there): overlaps ${folder}`, configured, 'settings');
  }
}

/** The first of PHP's folders that holds `cache` or lies inside it (real paths compared), if any. */
export function overlappingFolder(cache: string, phpFolders: string[]): string | undefined {
  const real = (path: string) => { try { return realpathSync(path); } catch { return path; } };
  const inside = (child: string, parent: string) => {
    const rel = relative(parent, child);
    return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
  };
  const cacheReal = real(cache);
  return phpFolders.map(real).find((folder) => inside(cacheReal, folder) || inside(folder, cacheReal));
}
