/**
 * php.wasm's optimised machine code on disk (see v8-wasm-code.ts), so a restarted server starts
 * from the code its last run optimised instead of compiling and re-optimising php.wasm.
 *
 * The file is machine code this process will run: it is read only from a folder of the server's
 * user that no one else can write (as opcache's compiled scripts, beside which it lives), and
 * V8 gets it only when its header names these exact php.wasm bytes, this Node and this machine,
 * and its content hashes to what the header says (V8 itself checks neither: a truncated file
 * loaded as a module).
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, realpathSync, renameSync, rmSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';

/** The subfolder of opcache's file cache folder that holds the code files. */
export const CODE_FOLDER = 'php.wasm-code';
const MAGIC = Buffer.from('PWSCODE1');
/** php.wasm fully optimised serialised to 57 MB; a tiered-up one to 6-8 MB. */
export const MAX_CODE_BYTES = 256 * 1024 * 1024;
/** Code files of other keys (another Node, another PHP) kept beside the current one. */
const KEEP_OTHERS = 3;
/** A temporary file this old is a write that never finished. */
const STALE_TMP_MS = 60 * 60 * 1000;

/**
 * Names the code made from these wire bytes by this Node on this machine. V8 also refuses code from
 * another V8 version, other V8 flags or other CPU features; the wire bytes it trusts blindly.
 */
export function codeKey(wireBytes: Uint8Array): string {
  return codeKeyOfDigest(wireDigest(wireBytes));
}

/** The SHA-256 of php.wasm's wire bytes (hex): what the key names them by. */
export function wireDigest(wireBytes: Uint8Array): string {
  return createHash('sha256').update(wireBytes).digest('hex');
}

/** The key for wire bytes whose digest is known already (see wire-digest.ts). */
export function codeKeyOfDigest(digest: string): string {
  return createHash('sha256').update([digest, process.version, process.versions.v8, process.arch, process.platform].join('\n')).digest('hex');
}

export function encodeCodeFile(key: string, code: Uint8Array): Buffer {
  const header = Buffer.from(JSON.stringify({ key, bytes: code.byteLength, sha256: createHash('sha256').update(code).digest('hex') }));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(header.byteLength);
  return Buffer.concat([MAGIC, length, header, code]);
}

/** The code in a file, or why it is not for this key. */
export function decodeCodeFile(file: Uint8Array, key: string): Uint8Array | string {
  const data = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (data.byteLength < MAGIC.byteLength + 4 || !data.subarray(0, MAGIC.byteLength).equals(MAGIC)) return 'not a code file';
  const headerEnd = MAGIC.byteLength + 4 + data.readUInt32BE(MAGIC.byteLength);
  if (headerEnd > data.byteLength) return 'truncated header';
  let header: { key?: unknown; bytes?: unknown; sha256?: unknown };
  try {
    header = JSON.parse(data.subarray(MAGIC.byteLength + 4, headerEnd).toString('utf8')) as typeof header;
  } catch {
    return 'unreadable header';
  }
  if (header.key !== key) return 'made from other php.wasm bytes or by another Node';
  const code = data.subarray(headerEnd);
  if (header.bytes !== code.byteLength) return `truncated or extended (${code.byteLength} bytes, header says ${String(header.bytes)})`;
  if (createHash('sha256').update(code).digest('hex') !== header.sha256) return 'content does not match its hash';
  return code;
}

/** The code for this key in `root`'s code folder, or why there is none to use. */
export function readCodeFile(root: string, key: string): { code: Uint8Array } | { miss: string } {
  const file = readTrustedFile(root, `${key}.bin`, MAX_CODE_BYTES + 64 * 1024);
  if ('miss' in file) return file;
  const code = decodeCodeFile(file.data, key);
  return typeof code === 'string' ? { miss: `${file.path}: ${code}` } : { code };
}

/**
 * A file of the code folder, read only when it and every folder above it can be written by no one
 * but the server's user (or root), or why not.
 */
export function readTrustedFile(root: string, name: string, maxBytes: number, folderName = CODE_FOLDER): { data: Buffer; path: string } | { miss: string } {
  const opened = openTrustedFile(root, name, maxBytes, folderName);
  if ('miss' in opened) return opened;
  try {
    return { data: readWhole(opened.fd, opened.size), path: opened.path };
  } finally {
    closeSync(opened.fd);
  }
}

/**
 * The size of a file of `folderName` under `root`, under the same conditions as readTrustedFile,
 * for a reader elsewhere (a worker thread) that opens it by path: the folder it lies in can be
 * written by this user only, so no one else can swap it in between.
 */
export function trustedFileSize(root: string, name: string, maxBytes: number, folderName: string): { path: string; size: number } | { miss: string } {
  const opened = openTrustedFile(root, name, maxBytes, folderName);
  if ('miss' in opened) return opened;
  closeSync(opened.fd);
  return { path: opened.path, size: opened.size };
}

function openTrustedFile(root: string, name: string, maxBytes: number, folderName: string): { fd: number; size: number; path: string } | { miss: string } {
  const folder = join(root, folderName);
  const untrusted = untrustedParents(root) ?? untrustedFolder(root) ?? untrustedFolder(folder);
  if (untrusted) return { miss: untrusted };
  const path = join(folder, name);
  let fd: number;
  try {
    // Checked and read through one descriptor: the file cannot be swapped between the two. O_NONBLOCK:
    // a named pipe there opens at once (and is then refused) instead of waiting for a writer.
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { miss: code === 'ENOENT' ? 'none yet' : `${path}: ${code === 'ELOOP' ? 'a symbolic link' : String(error)}` };
  }
  let refused: string | undefined;
  let size = 0;
  try {
    const stat = fstatSync(fd);
    size = stat.size;
    refused = untrustedEntry(stat, 'file') ?? (stat.size > maxBytes ? `larger than ${maxBytes} bytes` : undefined);
  } catch (error) {
    refused = String(error);
  }
  if (refused) {
    closeSync(fd);
    return { miss: `${path}: ${refused}` };
  }
  return { fd, size, path };
}

/** At most `size` bytes: a file growing while it is read is cut, and then fails its hash. */
function readWhole(fd: number, size: number): Buffer {
  const data = Buffer.allocUnsafe(size);
  let read = 0;
  while (read < size) {
    const n = readSync(fd, data, read, size - read, read);
    if (n === 0) break;
    read += n;
  }
  return data.subarray(0, read);
}

/**
 * Writes the code for this key whole or not at all (a temporary file renamed into place), and
 * removes the oldest files of other keys.
 */
export function writeCodeFile(root: string, key: string, code: Uint8Array): string {
  if (code.byteLength > MAX_CODE_BYTES) throw new Error(`php.wasm code of ${code.byteLength} bytes is over ${MAX_CODE_BYTES}`);
  const path = writeTrustedFile(root, `${key}.bin`, encodeCodeFile(key, code));
  pruneOthers(dirname(path), `${key}.bin`);
  return path;
}

/** Writes a file of the code folder (made 0700 if need be) whole or not at all, mode 0600; its path. */
export function writeTrustedFile(root: string, name: string, data: Uint8Array, folderName = CODE_FOLDER): string {
  const path = join(trustedFolderForWriting(root, folderName), name);
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
  return path;
}

/** `folderName` under `root`, made 0700 if need be, once it and `root` can be written by this user only; throws otherwise. */
export function trustedFolderForWriting(root: string, folderName: string): string {
  const folder = join(root, folderName);
  mkdirSync(folder, { mode: 0o700, recursive: true });
  const untrusted = untrustedFolder(root) ?? untrustedFolder(folder);
  if (untrusted) throw new Error(untrusted);
  return folder;
}

function pruneOthers(folder: string, current: string): void {
  const now = Date.now();
  const others: Array<{ path: string; mtimeMs: number }> = [];
  for (const name of readdirSync(folder)) {
    const path = join(folder, name);
    const stat = lstatSync(path, { throwIfNoEntry: false });
    if (!stat) continue;
    if (name.endsWith('.tmp')) {
      if (now - stat.mtimeMs > STALE_TMP_MS) rmSync(path, { force: true });
    } else if (name !== current && name.endsWith('.bin')) {
      others.push({ path, mtimeMs: stat.mtimeMs });
    }
  }
  others.sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const { path } of others.slice(KEEP_OTHERS)) rmSync(path, { force: true });
}

/**
 * Why a folder above the root may let someone else swap the root for their own, or undefined: each
 * must belong to this user or root, and be writable by no one else unless sticky (as /tmp is, where
 * no one can rename another user's folder).
 */
function untrustedParents(root: string): string | undefined {
  let path: string;
  try {
    path = realpathSync(dirname(root));
  } catch {
    return `${dirname(root)}: none yet`;
  }
  for (;;) {
    const stat = lstatSync(path);
    if (process.getuid && stat.uid !== process.getuid() && stat.uid !== 0) return `${path}: owned by uid ${stat.uid}, neither the server's user nor root`;
    if ((stat.mode & 0o022) !== 0 && (stat.mode & 0o1000) === 0) return `${path}: others may write it (mode ${(stat.mode & 0o1777).toString(8)})`;
    const parent = dirname(path);
    if (parent === path) return undefined;
    path = parent;
  }
}

/** Why a folder may hold code planted by someone else, or undefined when only this user can write it. */
function untrustedFolder(path: string): string | undefined {
  const stat = lstatSync(path, { throwIfNoEntry: false });
  if (!stat) return `${path}: none yet`;
  const refused = untrustedEntry(stat, 'folder');
  return refused && `${path}: ${refused}`;
}

function untrustedEntry(stat: Stats, kind: 'file' | 'folder'): string | undefined {
  if (stat.isSymbolicLink()) return 'a symbolic link';
  if (kind === 'file' ? !stat.isFile() : !stat.isDirectory()) return `not a ${kind}`;
  if (process.getuid && stat.uid !== process.getuid()) return `owned by uid ${stat.uid}, not the server's user`;
  if ((stat.mode & 0o077) !== 0) return `others may read or write it (mode ${(stat.mode & 0o777).toString(8)})`;
  return undefined;
}
