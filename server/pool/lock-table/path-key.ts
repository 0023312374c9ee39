/**
 * A file in the shared lock table is named by a 64-bit hash of its native path (two 32-bit FNV-style
 * hashes): the table holds fixed-size records, and every thread computes the same key for the same
 * path. Two paths that share a key look like one file to the table. For locks of different
 * processes that only adds a conflict (a lock on one path refuses a lock on the other), never
 * misses one, since one path always hashes the same. A process's own records are another matter:
 * its unlock of one path would drop its lock on the other; own-path-guard.ts refuses that case.
 */
export interface PathKey {
  readonly high: number;
  readonly low: number;
}

/** Paths are few (the database, one session file per session): a small per-thread cache is enough. */
const MAX_CACHED_PATHS = 4096;
const cache = new Map<string, PathKey>();

export function pathKey(path: string): PathKey {
  const cached = cache.get(path);
  if (cached) return cached;
  let high = 0x811c9dc5;
  let low = 0x9747b28c;
  for (let i = 0; i < path.length; i++) {
    const unit = path.charCodeAt(i);
    high = Math.imul(high ^ unit, 0x01000193);
    low = Math.imul(low ^ unit, 0x5bd1e995);
    low ^= low >>> 15;
  }
  const key = { high: high | 0, low: low | 0 };
  if (cache.size >= MAX_CACHED_PATHS) cache.clear();
  cache.set(path, key);
  return key;
}
