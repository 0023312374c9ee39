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
