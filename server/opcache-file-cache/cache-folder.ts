import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { preparePrivateDir } from '../config/private-dir.js';

/** Where workers see the site's compiled scripts (read-only to them; see compiler.ts). */
export const GUEST_OPCACHE_FILE_CACHE = '/var/cache/php-opcache';

export interface OpcacheFileCacheFolder {
  /** This site's folder: opcache's file_cache for the workers, written only by the compiler. */
  path: string;
  /** Deletes every compiled script (before workers start that never check timestamps). */
  empty(): void;
  dispose(): void;
}

/**
 * One subfolder per site, named after the docroot's real path: opcache keys its files by guest path
 * (/docroot/wp-config.php), which is the same for every site, and with an equal modification time
 * one site's workers would load another's compiled wp-config.php. The site lock (site-lock.ts) keeps
 * a second server off the same docroot, so one server at a time writes a subfolder.
 */
export function prepareOpcacheFileCache(configured: string | undefined, docroot: string): OpcacheFileCacheFolder {
  const root = preparePrivateDir(configured, 'opcacheFileCache', 'php-wasm-server-opcache-');
  const site = createHash('sha256').update(realpathSync(docroot)).digest('hex').slice(0, 16);
  const path = join(root.path, site);
  try {
    mkdirSync(path, { recursive: true, mode: 0o700 });
  } catch (error) {
    root.dispose();
    throw error;
  }
  return {
    path,
    empty() {
      for (const entry of readdirSync(path)) rmSync(join(path, entry), { recursive: true, force: true });
    },
    dispose: () => root.dispose(),
  };
}
