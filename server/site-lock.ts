import { createHash } from 'node:crypto';
import { closeSync, lstatSync, mkdirSync, openSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flockSync } from 'fs-ext-extra-prebuilt';

/**
 * Who may write a site's files, across OS processes. A server's workers share one lock table in
 * its own process; a `php-wasm-server php` job is another process that table does not cover, so a
 * job writing the SQLite database a server has open could corrupt it. Servers hold a shared lock on
 * the site (several may serve one folder), a job an exclusive one: each refuses while the other runs.
 * flock() locks go with the process, so a crashed holder never leaves the site locked.
 */
export class SiteInUseError extends Error {}

export interface SiteLock {
  release(): void;
}

export type SiteLockHolder = 'server' | 'job';

export function lockSite(docroot: string, holder: SiteLockHolder): SiteLock {
  const path = siteLockPath(docroot);
  const fd = openSync(path, 'a', 0o600);
  try {
    flockSync(fd, holder === 'server' ? 'shnb' : 'exnb');
  } catch (error) {
    closeSync(fd);
    if (!isWouldBlock(error)) throw error;
    throw new SiteInUseError(holder === 'server'
      ? `a php-wasm-server php job is running on ${docroot}; start the server when it has ended`
      : `a php-wasm-server is serving ${docroot}: stop it first, since its workers' SQLite locks do not reach another process`);
  }
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      closeSync(fd); // closing the descriptor releases the lock
    },
  };
}

/** One lock file per site (by the docroot's real path) in a folder private to this user. */
export function siteLockPath(docroot: string): string {
  const uid = process.getuid?.() ?? 0;
  const dir = join(tmpdir(), `php-wasm-server-locks-${uid}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = lstatSync(dir);
  // Another user could have made the folder first (in a shared /tmp) to hold our sites' locks.
  if (!stat.isDirectory() || stat.isSymbolicLink() || stat.uid !== uid || (stat.mode & 0o077) !== 0) {
    throw new Error(`${dir} must be a private folder (0700) of uid ${uid}`);
  }
  const key = createHash('sha256').update(realpathSync(docroot)).digest('hex').slice(0, 32);
  return join(dir, `site-${key}.lock`);
}

function isWouldBlock(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException)?.code;
  return code === 'EWOULDBLOCK' || code === 'EAGAIN';
}
