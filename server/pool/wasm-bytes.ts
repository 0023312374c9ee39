/**
 * php.wasm's bytes, read through one descriptor together with the identity of the file they came
 * from (see wasm-code-cache/wire-digest.ts). A container image keeps them gzipped beside the loader
 * (`FILE.gz`, 23 MB → 9 MB), which costs a fraction of a second once per process.
 */
import { closeSync, existsSync, fstatSync, openSync, read } from 'node:fs';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { fileIdentity } from '../wasm-code-cache/wire-digest.js';

const readAt = promisify(read);

export interface OpenedWasm {
  /** The file read: the loader's, or its `.gz` beside it. */
  path: string;
  fd: number;
  size: number;
  /** Its identity when opened. */
  identity: string;
  /** When its content or metadata last changed (ms since the epoch). */
  changedAtMs: number;
  gzipped: boolean;
}

/**
 * A file timestamp moves in ticks of the kernel's clock: a write in the same tick as the stat that was
 * hashed leaves the identity as it was (git's "racy" files). A file changed this recently is hashed at
 * every start until it has been still for longer.
 */
const RACY_MS = 2_000;

export function changedLately(wasm: OpenedWasm, nowMs = Date.now()): boolean {
  return nowMs - wasm.changedAtMs < RACY_MS;
}

export function openWasm(file: string): OpenedWasm {
  const gzipped = !existsSync(file) && existsSync(`${file}.gz`);
  const path = gzipped ? `${file}.gz` : file;
  const fd = openSync(path, 'r');
  try {
    const stat = fstatSync(fd, { bigint: true });
    return { path, fd, size: Number(stat.size), identity: fileIdentity(stat), changedAtMs: Number(stat.ctimeNs / 1_000_000n), gzipped };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/**
 * The bytes, in as few reads as the kernel allows (each one job on libuv's threads, so this thread
 * is free meanwhile), and whether the file kept its identity while they were read. Closes the file.
 */
export async function readOpenedWasm(wasm: OpenedWasm): Promise<{ bytes: Uint8Array; unchanged: boolean }> {
  try {
    const data = Buffer.allocUnsafe(wasm.size);
    let done = 0;
    while (done < wasm.size) {
      const { bytesRead } = await readAt(wasm.fd, data, done, wasm.size - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    const unchanged = done === wasm.size && fileIdentity(fstatSync(wasm.fd, { bigint: true })) === wasm.identity;
    const read = data.subarray(0, done);
    return { bytes: wasm.gzipped ? await promisify(gunzip)(read) : read, unchanged };
  } finally {
    closeSync(wasm.fd);
  }
}
