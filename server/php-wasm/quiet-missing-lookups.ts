import { lstatSync } from 'node:fs';
import type { Runtime } from './internals.js';

const ENOENT = 44; // Emscripten's errno numbering

/**
 * Emscripten's NODEFS looks up a name it has no node for with `fs.lstatSync(path)`, and a name that
 * does not exist makes Node build and throw an exception (with a stack trace through wasm frames)
 * that tryFSOperation then turns into FS.ErrnoError(ENOENT). PHP asks for missing files all the
 * time (file_exists on optional files, SQLite's hot-journal and -wal checks at every transaction,
 * WordPress's language and drop-in probes): 49 lookups in a warm WordPress REST request, 83 in a
 * home page. file_exists() on a missing file took 17.1 µs in a worker (7.2 µs on a present one).
 * Asked with `throwIfNoEntry: false`, Node answers "no such file" without an exception (8.4 µs);
 * the error PHP gets is the same ENOENT, reused (it carries no stack, as MEMFS's own "does not
 * exist" error does). Any other failure (EACCES, ENOTDIR, ELOOP) still goes through tryFSOperation
 * and keeps its own errno.
 */
export function quietMissingLookups(runtime: Runtime): void {
  const { FS } = runtime;
  const nodefs = FS.filesystems.NODEFS;
  if (nodefs.isWindows) return; // Emscripten's own getMode also fixes up Windows' permission bits
  const doesNotExist = new FS.ErrnoError(ENOENT);
  nodefs.getMode = (path: string): number => {
    const stat = nodefs.tryFSOperation(() => lstatSync(path, { throwIfNoEntry: false }));
    if (!stat) throw doesNotExist;
    return stat.mode;
  };
}
