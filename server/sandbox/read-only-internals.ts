import type { Runtime } from '../php-wasm/internals.js';

const EROFS = 69; // Emscripten's errno for "read-only file system"
const O_ACCMODE = 3;
const O_RDONLY = 0;
const O_CREAT = 64;
const O_TRUNC = 512;
const INTERNAL = '/internal';

/**
 * What the server places in the guest under /internal (php.ini, the prepend file run before every
 * script, php.wasm's own scripts) is read-only to PHP: one request appending a header() call to the
 * prepend file changed every later response of that worker. Installed once the instance has booted;
 * from then on nothing under /internal is opened for writing, created, removed or renamed.
 */
export function readOnlyInternals(runtime: Runtime): void {
  const { FS } = runtime;
  const inside = (path: string) => path === INTERNAL || path.startsWith(INTERNAL + '/');
  const pathOf = (node: object) => FS.getPath(node) as string;

  const open = FS.open.bind(FS);
  FS.open = (path: string | object, flags: number | string, mode?: number) => {
    const numeric = typeof flags === 'string' ? FS_flags(flags) : flags;
    const writing = (numeric & O_ACCMODE) !== O_RDONLY || (numeric & (O_CREAT | O_TRUNC)) !== 0;
    if (writing && targetsInternal(path)) throw new FS.ErrnoError(EROFS);
    return open(path, flags, mode);
  };
  // Creating, removing and renaming all ask these first, whatever the syscall.
  const mayCreate = FS.mayCreate.bind(FS);
  FS.mayCreate = (dir: object, name: string) => (inside(pathOf(dir)) ? EROFS : mayCreate(dir, name));
  const mayDelete = FS.mayDelete.bind(FS);
  FS.mayDelete = (dir: object, name: string, isDir: boolean) => (inside(pathOf(dir)) ? EROFS : mayDelete(dir, name, isDir));

  /** Whether an open would reach a file under /internal, following symlinks (e.g. one in /tmp). */
  function targetsInternal(path: string | object): boolean {
    if (typeof path === 'object') return inside(pathOf(path));
    try {
      const found = FS.lookupPath(path, { follow: true, noent_okay: true });
      if (found.node) return inside(pathOf(found.node));
      return inside(found.path ?? '');
    } catch {
      return false; // the open itself reports the error
    }
  }

  function FS_flags(flags: string): number {
    return flags.includes('w') || flags.includes('a') || flags.includes('+') ? 1 : 0;
  }
}
