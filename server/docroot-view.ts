import { realpathSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import type { DocrootView, EntryKind } from './routing.js';
import { locateInSite, type Overlay } from './site-overlays.js';

export interface DocrootViewOptions {
  /**
   * How long (ms) an answer is reused. Routing asks about every prefix of every URL (two
   * syscalls each), so a short cache, like nginx's open_file_cache, halves the cost of a static
   * file. 0 = always ask the filesystem.
   */
  cacheMs?: number;
  /** Bound on remembered paths; the cache starts over when it is full. */
  maxEntries?: number;
  /** The host calls it makes (tests give failing ones: EACCES and EMFILE cannot be staged as root). */
  host?: HostCalls;
  /** Folders mounted inside the docroot: their paths are looked up in the mounted folder. */
  overlays?: readonly Overlay[];
  /** The time in ms (tests move it by hand to check cacheMs). */
  now?: () => number;
}

export interface HostCalls {
  realpath: (path: string) => string;
  isFileOrDir: (realPath: string) => EntryKind;
}

const NATIVE: HostCalls = {
  realpath: (path) => realpathSync.native(path),
  isFileOrDir: (realPath) => {
    const stat = statSync(realPath);
    return stat.isFile() ? 'file' : stat.isDirectory() ? 'dir' : null;
  },
};

/**
 * The errors that mean "nothing of that name here" (a symlink loop and an over-long name too). Any
 * other (EACCES, EMFILE, EIO) is a fault, not an absent file: answered as a server error, never by
 * sending the URL to the front controller as if the file did not exist.
 */
const ABSENT_CODES = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG']);

export function meansAbsent(error: unknown): boolean {
  return ABSENT_CODES.has((error as NodeJS.ErrnoException | undefined)?.code ?? '');
}

/**
 * The real docroot as the router sees it. A symlink is followed only while it stays inside the
 * docroot; one that points outside reads as absent, so neither PHP nor the static server reach it.
 */
export function createDocrootView(docroot: string, { cacheMs = 0, maxEntries = 10_000, host = NATIVE, overlays = [], now: clock = Date.now }: DocrootViewOptions = {}): DocrootView {
  const docrootReal = realpathSync(docroot);
  const cache = new Map<string, { kind: EntryKind; until: number }>();

  function lookup(relPath: string): EntryKind {
    // A symlink inside an overlay stays inside that overlay's folder, as one in the docroot stays there.
    const { root, relPath: rel } = locateInSite(docrootReal, overlays, relPath);
    const real = realPathInside(root, rel, host);
    if (real === null) return null;
    try {
      return host.isFileOrDir(real);
    } catch (error) {
      if (meansAbsent(error)) return null;
      throw error;
    }
  }

  return {
    kind(relPath: string): EntryKind {
      if (cacheMs <= 0) return lookup(relPath);
      const now = clock();
      const hit = cache.get(relPath);
      if (hit && hit.until > now) return hit.kind;
      const kind = lookup(relPath);
      if (cache.size >= maxEntries) cache.clear();
      cache.set(relPath, { kind, until: now + cacheMs });
      return kind;
    },
  };
}

/**
 * The real path of `relPath` under `root` (itself a real path), or null when it does not exist or
 * a symlink leads outside `root`. Static serving asks again at the moment it opens a file, so a
 * cached routing answer can never be turned into a read outside the docroot.
 */
export function realPathInside(root: string, relPath: string, host: HostCalls = NATIVE): string | null {
  let real: string;
  try {
    real = host.realpath(join(root, relPath));
  } catch (error) {
    if (meansAbsent(error)) return null;
    throw error;
  }
  return real === root || real.startsWith(root.endsWith(sep) ? root : root + sep) ? real : null;
}
