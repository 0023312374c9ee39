import { existsSync } from 'node:fs';
import type { Runtime } from '../php-wasm/internals.js';

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
/** Header bytes "file format write version" and "read version": 1 = rollback journal, 2 = WAL. */
const WRITE_VERSION = 18;
const READ_VERSION = 19;
const WAL = 2;
const ROLLBACK = 1;

/**
 * A database a native sqlite3 left in WAL mode says so in its header (bytes 18 and 19 are 2), and
 * SQLite then insists on WAL, which php.wasm workers refuse (see no-sqlite-wal.ts): every query would
 * fail with "unable to open database file". When no `-wal` file lies beside it, everything is in the
 * main file, so workers are shown a rollback-journal header instead: the database works as any other,
 * and its first write stores that header, converting the file for good (as `PRAGMA journal_mode=DELETE`
 * would). With a `-wal` file present its content may hold commits the main file lacks: the header
 * is left alone and SQLite's error stands, until a native sqlite3 checkpoints it.
 * Reads of host files (NODEFS) at offset 0 only; one comparison of 16 bytes unless it is such a database.
 */
export function walHeaderAsRollback(runtime: Runtime): void {
  const nodefs = runtime.FS.filesystems.NODEFS;
  const ops = nodefs.stream_ops;
  const read = ops.read;
  ops.read = function (this: unknown, stream: { node: unknown }, buffer: Int8Array, offset: number, length: number, position: number) {
    const got: number = read.call(this, stream, buffer, offset, length, position);
    if (position === 0 && got > READ_VERSION && buffer[offset + WRITE_VERSION] === WAL && buffer[offset + READ_VERSION] === WAL
      && isSqliteHeader(buffer, offset) && !existsSync(`${nodefs.realPath(stream.node)}-wal`)) {
      buffer[offset + WRITE_VERSION] = ROLLBACK;
      buffer[offset + READ_VERSION] = ROLLBACK;
    }
    return got;
  };
}

function isSqliteHeader(buffer: Int8Array, offset: number): boolean {
  for (let i = 0; i < SQLITE_MAGIC.length; i++) if (buffer[offset + i] !== SQLITE_MAGIC[i]) return false;
  return true;
}
