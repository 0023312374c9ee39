import type { Runtime } from '../php-wasm/internals.js';

const EROFS = 69; // Emscripten's errno for "read-only file system"
const O_ACCMODE = 3;
const O_RDONLY = 0;
const WRITING_NODE_OPS = ['setattr', 'mknod', 'rename', 'unlink', 'rmdir', 'symlink'] as const;
const guarded = new WeakSet<object>();

/**
 * Mounts a host folder that PHP can read but never change (mod_wasm's WasmMapDir read-only form).
 * Emscripten ignores file modes, so the NODEFS operations themselves refuse writes on such mounts.
 */
export function mountReadOnly(runtime: Runtime, hostPath: string, guestPath: string): void {
  const { FS } = runtime;
  const nodefs = FS.filesystems.NODEFS;
  if (!guarded.has(nodefs)) {
    guardWrites(FS, nodefs);
    guarded.add(nodefs);
  }
  FS.mount(nodefs, { root: hostPath, readOnly: true }, guestPath);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function guardWrites(FS: any, nodefs: any): void {
  // rename/mknod/... receive the parent directory node; setattr the node itself: both carry .mount.
  const isReadOnly = (node: { mount?: { opts?: { readOnly?: boolean } } }) => node?.mount?.opts?.readOnly === true;
  for (const op of WRITING_NODE_OPS) {
    const original = nodefs.node_ops[op];
    nodefs.node_ops[op] = function (this: unknown, node: never, ...rest: unknown[]) {
      if (isReadOnly(node) || (op === 'rename' && isReadOnly(rest[0] as never))) throw new FS.ErrnoError(EROFS);
      return original.call(this, node, ...rest);
    };
  }
  const open = nodefs.stream_ops.open;
  nodefs.stream_ops.open = function (this: unknown, stream: { node: never; flags: number }) {
    if (isReadOnly(stream.node) && (stream.flags & O_ACCMODE) !== O_RDONLY) throw new FS.ErrnoError(EROFS);
    return open.call(this, stream);
  };
}
