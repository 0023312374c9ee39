import type { Runtime } from '../php-wasm/internals.js';

const EACCES = 2; // Emscripten's errno for "permission denied"
const HEADER = new TextEncoder().encode('SQLite format 3\0');
/** Bytes 18 and 19 of an SQLite database: file format versions, 1 = rollback journal, 2 = WAL. */
const WRITE_VERSION = 18;
const READ_VERSION = 19;

/**
 * SQLite's WAL mode needs one shared-memory index (the -shm file, mapped by every connection) that
 * separate php.wasm instances cannot share: Emscripten's mmap gives each its own copy, and with 8
 * writers in WAL mode rows were lost and the file corrupted. Databases in host folders therefore stay
 * in a rollback journal, at the file level:
 * - page 1 written with the WAL version (what `PRAGMA journal_mode=WAL` commits) is written with the
 *   rollback version instead, in place, so the connection's cache agrees with the disk; without a
 *   -wal file SQLite falls back to the rollback journal at that connection's next transaction;
 * - a -wal or -shm file is never opened (a database already in WAL mode, made by another program,
 *   fails to open with SQLite's "unable to open database file" instead of being used unsafely).
 */
export function sqliteRollbackOnly(runtime: Runtime, onRefused: (path: string) => void): void {
  const { FS } = runtime;
  const nodefs = FS.filesystems.NODEFS;
  const onHost = (node: { mount?: { type?: unknown } } | undefined) => node?.mount?.type === nodefs;

  const write = FS.write.bind(FS);
  FS.write = (stream: { node?: { mount?: { type?: unknown } }; position: number }, buffer: Uint8Array, offset: number, length: number, position?: number, canOwn?: boolean) => {
    const at = position ?? stream.position;
    if (at === 0 && length > READ_VERSION && onHost(stream.node) && isWalHeader(buffer, offset)) {
      buffer[offset + WRITE_VERSION] = 1;
      buffer[offset + READ_VERSION] = 1;
    }
    return write(stream, buffer, offset, length, position, canOwn);
  };

  const open = FS.open.bind(FS);
  FS.open = (path: string | object, flags: number | string, mode?: number) => {
    if (typeof path === 'string' && /-(wal|shm)$/.test(path) && isHostDatabase(path.replace(/-(wal|shm)$/, ''))) {
      onRefused(path);
      throw new FS.ErrnoError(EACCES);
    }
    return open(path, flags, mode);
  };

  function isHostDatabase(path: string): boolean {
    try {
      const { node } = FS.lookupPath(path, { follow: true });
      if (!onHost(node)) return false;
      const head = new Uint8Array(HEADER.length);
      const stream = FS.open(path, 'r');
      try {
        FS.read(stream, head, 0, head.length, 0);
      } finally {
        FS.close(stream);
      }
      return head.every((byte, i) => byte === HEADER[i]);
    } catch {
      return false;
    }
  }
}

function isWalHeader(buffer: Uint8Array, offset: number): boolean {
  for (let i = 0; i < HEADER.length; i++) if (buffer[offset + i] !== HEADER[i]) return false;
  return buffer[offset + WRITE_VERSION] === 2 || buffer[offset + READ_VERSION] === 2;
}
