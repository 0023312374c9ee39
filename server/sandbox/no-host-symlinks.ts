import type { Runtime } from '../php-wasm/internals.js';

const EPERM = 63; // Emscripten's errno for "operation not permitted"

/**
 * PHP may not create symlinks in host folders. Emscripten's NODEFS writes the link target as given,
 * so a guest's symlink('/etc/passwd', …) would become a host symlink to the host's /etc/passwd, which
 * the static file server (or another process) could then follow out of the sandbox.
 */
export function refuseHostSymlinks(runtime: Runtime): void {
  const { FS } = runtime;
  FS.filesystems.NODEFS.node_ops.symlink = () => {
    throw new FS.ErrnoError(EPERM);
  };
}
