/**
 * The digest of php.wasm's wire bytes, remembered in the code folder together with the identity of
 * the file it was read from, so a restart names its code (see cache-file.ts) without hashing 27 MB
 * first: ~50-60 ms on the start's critical path on this machine. The identity is the device, inode,
 * size, and the modification and change times in nanoseconds. A user cannot set a change time: a
 * write to the file, or another file put in its place, gives another identity, and the bytes are
 * hashed again (as git's index trusts a file's stat for its content).
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, rmSync, type BigIntStats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { readTrustedFile, writeTrustedFile } from './cache-file.js';

/** What a memo holds; a JSON of a few hundred bytes. */
interface Memo {
  path: string;
  identity: string;
  sha256: string;
}

const MAX_MEMO_BYTES = 4096;
/** Memos of other files (other PHP versions, other install paths) kept beside the current one. */
const KEEP_OTHERS = 8;

/** The identity of the file `stat` describes, as one comparable string. */
export function fileIdentity(stat: BigIntStats): string {
  return [stat.dev, stat.ino, stat.size, stat.mtimeNs, stat.ctimeNs].join(':');
}

/** One memo per php.wasm file (each PHP version and build has its own). */
export function memoName(wasmPath: string): string {
  return `wire-${createHash('sha256').update(wasmPath).digest('hex').slice(0, 32)}.json`;
}

/** The digest remembered for this file with this identity, or undefined (none, another identity, unreadable). */
export function rememberedDigest(root: string, wasmPath: string, identity: string): string | undefined {
  const file = readTrustedFile(root, memoName(wasmPath), MAX_MEMO_BYTES);
  if ('miss' in file) return undefined;
  let memo: Partial<Memo>;
  try {
    memo = JSON.parse(file.data.toString('utf8')) as Partial<Memo>;
  } catch {
    return undefined;
  }
  const valid = memo.path === wasmPath && memo.identity === identity && typeof memo.sha256 === 'string' && /^[0-9a-f]{64}$/.test(memo.sha256);
  return valid ? memo.sha256 : undefined;
}

/** Remembers the digest of the bytes read from this file while it had this identity; false when it cannot. */
export function rememberDigest(root: string, wasmPath: string, identity: string, sha256: string): boolean {
  const memo: Memo = { path: wasmPath, identity, sha256 };
  let path: string;
  try {
    path = writeTrustedFile(root, memoName(wasmPath), Buffer.from(JSON.stringify(memo)));
  } catch {
    return false; // a folder refused or a full disk: the next start hashes the bytes again
  }
  pruneOtherMemos(dirname(path), basename(path));
  return true;
}

/** Deploys to versioned paths leave a memo per path: the newest few stay. */
function pruneOtherMemos(folder: string, current: string): void {
  const others = readdirSync(folder)
    .filter((name) => name !== current && /^wire-[0-9a-f]{32}\.json$/.test(name))
    .map((name) => ({ path: join(folder, name), mtimeMs: lstatSync(join(folder, name), { throwIfNoEntry: false })?.mtimeMs ?? 0 }))
    .sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const { path } of others.slice(KEEP_OTHERS)) rmSync(path, { force: true });
}
