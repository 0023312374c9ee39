import type { Runtime } from '../php-wasm/internals.js';

/** sqlite3_io_methods on wasm32: int iVersion, then 18 function pointers (table indices). */
const METHODS_WORDS = 19;
const X_SHM_MAP = 13;
/** Slots every method table of SQLite's unix VFS fills with the same functions (read, write, sync…, shm lock/unmap, fetch). */
const SHARED_SLOTS = [2, 3, 4, 5, 6, 10, 11, 12, 14, 15, 16, 17, 18];

/**
 * SQLite's WAL mode keeps its index in shared memory, the `-shm` file that SQLite mmaps. Emscripten's
 * mmap copies the file into the instance's own memory, so every php.wasm worker keeps a private index
 * and overwrites the others' commits: 8 writers asking for WAL kept 156 of 1,825 rows they were told
 * were inserted; elsewhere "database disk image is malformed".
 *
 * SQLite enters WAL only through file methods that offer shared memory (`xShmMap`); its own no-lock
 * and dot-file methods offer none, and then `PRAGMA journal_mode=WAL` answers with the mode the
 * database already has (exclusive locking mode still may, with the index in private memory, which is
 * safe: nobody else can open the file meanwhile). So the `xShmMap` slot of the unix VFS's posix
 * methods is cleared in this instance's memory. No exported symbol names that table: it is found by
 * its shape, next to the no-lock table that shares all its I/O functions but has no `xShmMap`.
 * Returns the address patched; throws if the table is not there exactly once (another SQLite
 * build), so a worker never runs with WAL silently allowed.
 */
export function refuseSqliteWal(runtime: Runtime): number {
  const words = new Int32Array(runtime.HEAPU8.buffer, 0, staticDataEnd(runtime) >> 2);
  const posix = findPosixIoMethods(words);
  words[posix + X_SHM_MAP] = 0;
  return posix * 4;
}

/**
 * Where static data (and the stack) ends: the table lies below. Scanning only that far takes
 * ~15 ms instead of ~250 ms for the whole 64 MB, most of which is untouched memory.
 */
function staticDataEnd(runtime: Runtime): number {
  const heapBase = runtime.wasmExports?.__heap_base;
  const end = typeof heapBase === 'number' ? heapBase : heapBase?.value;
  return typeof end === 'number' && end > 0 && end <= runtime.HEAPU8.byteLength ? end : runtime.HEAPU8.byteLength;
}

/** Word index of SQLite's posixIoMethods in `words`: iVersion 3, an xShmMap, the I/O functions of a no-lock twin. */
export function findPosixIoMethods(words: Int32Array): number {
  const looksLikeMethods = (at: number, version: number) => {
    if (words[at] !== version) return false;
    for (let slot = 1; slot < METHODS_WORDS; slot++) if (slot !== X_SHM_MAP && words[at + slot]! <= 0) return false;
    return true;
  };
  const sameIo = (a: number, b: number) => SHARED_SLOTS.every((slot) => words[a + slot] === words[b + slot]);
  // One pass collects both kinds (a few dozen candidates), then the pairs are matched.
  const end = words.length - METHODS_WORDS;
  const noLock: number[] = [];
  const withShm: number[] = [];
  for (let at = 0; at < end; at++) {
    if (words[at] !== 3 || !looksLikeMethods(at, 3)) continue;
    (words[at + X_SHM_MAP] === 0 ? noLock : withShm).push(at);
  }
  const found = new Set(withShm.filter((at) => noLock.some((twin) => sameIo(at, twin))));
  if (found.size !== 1) throw new Error(`SQLite WAL guard: expected one posix I/O method table in php.wasm, found ${found.size} (no-lock candidates: ${noLock.length})`);
  return [...found][0]!;
}
