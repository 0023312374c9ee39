import type { Runtime } from '../php-wasm/internals.js';

const EPERM = 63; // Emscripten's errno for "operation not permitted"
const SPECIAL_BITS = 0o7000; // setuid, setgid, sticky
const PERMISSION_BITS = 0o777;

/**
 * File modes on host folders follow the server's rules, not the script's:
 * - no setuid, setgid or sticky bit ever (a script could otherwise leave a setuid-root binary on
 *   the host when the server runs as root), and never more permission than the process umask allows;
 * - files and folders PHP creates get the umask too (NODEFS made files 0666 whatever the umask);
 * - chown/chgrp fail (EPERM), as they would for an unprivileged user, instead of claiming success.
 */
export function enforceHostFileModes(runtime: Runtime, umask: number): void {
  const { FS } = runtime;
  const nodefs = FS.filesystems.NODEFS;
  const allowed = (mode: number) => (mode & ~(SPECIAL_BITS | PERMISSION_BITS)) | (mode & PERMISSION_BITS & ~umask);

  const mknod = nodefs.node_ops.mknod;
  nodefs.node_ops.mknod = function (this: unknown, parent: unknown, name: string, mode: number, dev: unknown) {
    return mknod.call(this, parent, name, allowed(mode), dev);
  };
  const setattr = nodefs.node_ops.setattr;
  nodefs.node_ops.setattr = function (this: unknown, node: unknown, attr: { mode?: number }) {
    return setattr.call(this, node, attr.mode == null ? attr : { ...attr, mode: allowed(attr.mode) });
  };

  const onHost = (node: { mount?: { type?: unknown } } | undefined) => node?.mount?.type === nodefs;
  const doChown = FS.doChown.bind(FS);
  FS.doChown = (stream: unknown, node: { mount?: { type?: unknown } }, dontFollow: boolean) => {
    if (onHost(node)) throw new FS.ErrnoError(EPERM);
    return doChown(stream, node, dontFollow);
  };
}
