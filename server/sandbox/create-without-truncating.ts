import { closeSync, openSync } from 'node:fs';
import type { Runtime } from '../php-wasm/internals.js';

/**
 * `open(path, O_CREAT)` on a host folder must never empty a file that exists. Emscripten creates the
 * host file in NODEFS's mknod with writeFileSync(path, '') — O_TRUNC — after its own lookup found
 * nothing. With several workers on one folder, two of them can both find nothing and create: the
 * second truncates what the first has written meanwhile (seen as SQLite's "attempt to write a
 * readonly database" and a lost row when two workers create one database). Appending mode creates
 * the file if it is missing and leaves an existing one as it is, in one host call.
 */
export function createWithoutTruncating(runtime: Runtime): void {
  const { FS } = runtime;
  openWhatAnotherWorkerCreated(runtime);
  const nodefs = FS.filesystems.NODEFS;
  const mknod = nodefs.node_ops.mknod;
  nodefs.node_ops.mknod = function (this: unknown, parent: unknown, name: string, mode: number, dev: unknown) {
    if (!FS.isFile(mode)) return mknod.call(this, parent, name, mode, dev);
    const node = nodefs.createNode(parent, name, mode, dev);
    const hostPath: string = nodefs.realPath(node);
    nodefs.tryFSOperation(() => closeSync(openSync(hostPath, 'a', node.mode)));
    return node;
  };
}

const EEXIST = 20; // Emscripten's errno
const O_CREAT = 0o100;
const O_EXCL = 0o200;

/**
 * open(path, O_CREAT) without O_EXCL must open a file that appeared after its lookup missed it.
 * Emscripten's open looks the path up, finds nothing, and calls mknod, whose own check then finds
 * the file another worker created meanwhile and fails with EEXIST. SQLite takes a failed read-write
 * open as "no permission" and opens the database read-only: every write of that connection then
 * failed with "attempt to write a readonly database" (seen with 8 workers creating one database).
 * The second try finds the file and opens it, as one atomic open(2) would have.
 */
function openWhatAnotherWorkerCreated(runtime: Runtime): void {
  const { FS } = runtime;
  const open = FS.open.bind(FS);
  FS.open = (path: string | object, flags: number | string, mode?: number) => {
    try {
      return open(path, flags, mode);
    } catch (error) {
      const numeric = typeof flags === 'number' ? flags : 0;
      const raced = (error as { errno?: number })?.errno === EEXIST && (numeric & O_CREAT) !== 0 && (numeric & O_EXCL) === 0;
      if (!raced) throw error;
      return open(path, flags, mode);
    }
  };
}
