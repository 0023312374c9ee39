/**
 * ZIP extraction for WordPress assembly (assemble.ts), on Node's native zlib: the central directory
 * is read once, each kept entry is inflated (zlib.inflateRawSync, one entry of at most STREAM_ABOVE
 * bytes at a time on the main thread, while the thread pool writes the files before it, up to
 * WRITERS at once) and checked against its CRC-32 before it is written. An archive of at most
 * READ_WHOLE_BELOW bytes is read in one go (WordPress's is ~25 MB), a larger one entry by entry.
 * (Measured on 2 cores: inflating on the pool, or streaming every entry as yauzl does, is slower,
 * as the pool's threads are then shared between inflating and writing.)
 *
 * Safety, for an archive that may be hostile (a user's --wordpress-version FILE.zip):
 *   - no entry may name an absolute path, a drive, a ".." segment or a NUL, and none may land
 *     outside dest; symlink entries, encrypted entries and methods other than stored/deflate are refused;
 *   - an entry never inflates past the size its header declares (a lying zip bomb fails at that size),
 *     and the kept entries together may declare at most maxTotalBytes (an honest one fails up front);
 *   - every entry's CRC-32 is checked (zlib.crc32 where Node has it, else a table in JavaScript);
 *   - memory: besides an archive read whole, at most WRITERS entries of at most STREAM_ABOVE bytes
 *     are held at once; larger entries are streamed to disk.
 * Entry names are read as UTF-8, as adm-zip reads them.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';

export interface ExtractZipOptions {
  /** Most bytes the kept entries may declare, inflated, altogether (default 1 GiB). */
  maxTotalBytes?: number;
  /** Most entries the archive may hold (default 100,000). */
  maxEntries?: number;
  /** Read the archive whole when it has at most this many bytes (default 64 MiB; tests set 0). */
  readWholeBelow?: number;
}

const DEFAULT_MAX_TOTAL_BYTES = 1024 * 1024 * 1024;
const DEFAULT_MAX_ENTRIES = 100_000;
/** Files written at once (libuv's pool has 4 threads; a few more keep it busy). */
const WRITERS = 16;
/** Entries larger than this (compressed or inflated) are streamed to disk instead of held in memory. */
const STREAM_ABOVE = 4 * 1024 * 1024;
/** An archive up to this size is read into memory in one read; a larger one entry by entry. */
const READ_WHOLE_BELOW = 64 * 1024 * 1024;

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END = 0x06054b50;
const SIG_END64 = 0x06064b50;
const SIG_END64_LOCATOR = 0x07064b50;
const END_SIZE = 22;
const MAX_COMMENT = 0xffff;

interface Entry {
  name: string;
  method: number;
  flags: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
  isDirectory: boolean;
  isSymlink: boolean;
}

/**
 * Extracts a zip into dest, stripping a single top-level folder shared by all entries
 * (e.g. "wordpress/" or "sqlite-database-integration-main/") so the files land directly in dest.
 * keep() gets the stripped relative path (folders with a trailing "/"). Returns the number of files
 * written. Throws, naming the archive and the entry, on anything unsafe or corrupt.
 */
export async function extractZip(
  zipFile: string,
  dest: string,
  keep: (rel: string) => boolean,
  opts: ExtractZipOptions = {},
): Promise<number> {
  const maxTotal = opts.maxTotalBytes ?? DEFAULT_MAX_TOTAL_BYTES;
  const root = path.resolve(dest);
  const fh = await fs.open(zipFile, 'r');
  try {
    const { entries, dataEnd, fileSize } = await readCentralDirectory(fh, zipFile, opts.maxEntries ?? DEFAULT_MAX_ENTRIES);
    const top = commonTopFolder(entries.map((e) => e.name));

    const files: { entry: Entry; rel: string; target: string }[] = [];
    const dirs = new Set<string>();
    const seen = new Set<string>();
    let total = 0;
    for (const entry of entries) {
      // Every name is checked, kept or not: no sound archive holds an unsafe one.
      safeRelative(entry.name, zipFile);
      const rel = entry.name.slice(top.length).replace(/\/+$/, '');
      if (rel === '' || !keep(entry.isDirectory ? `${rel}/` : rel)) continue;
      const target = path.resolve(root, rel);
      if (!target.startsWith(root + path.sep)) throw new Error(`${zipFile}: refusing unsafe path "${entry.name}"`);
      if (entry.isDirectory) {
        dirs.add(target);
        continue;
      }
      if (entry.isSymlink) throw new Error(`${zipFile}: refusing symbolic link "${entry.name}"`);
      if (entry.flags & 0x41) throw new Error(`${zipFile}: cannot extract "${entry.name}": it is encrypted`);
      if (entry.method !== 0 && entry.method !== 8) {
        throw new Error(`${zipFile}: cannot extract "${entry.name}": unsupported compression method ${entry.method}`);
      }
      if (entry.method === 0 && entry.compressedSize !== entry.size) {
        throw new Error(`${zipFile}: cannot extract "${entry.name}": stored entry's sizes disagree (corrupt archive)`);
      }
      if (seen.has(target)) throw new Error(`${zipFile}: "${entry.name}" appears twice`);
      seen.add(target);
      total += entry.size;
      if (total > maxTotal) {
        throw new Error(`${zipFile}: refusing to extract more than ${maxTotal} bytes (the archive declares more; a zip bomb?)`);
      }
      files.push({ entry, rel, target });
      dirs.add(path.dirname(target));
    }

    // Parents before children (sorted), each created once.
    for (const d of [...dirs].sort()) await fs.mkdir(d, { recursive: true });
    const whole = fileSize <= (opts.readWholeBelow ?? READ_WHOLE_BELOW) && files.length > 0 ? await readAt(fh, 0, fileSize) : undefined;
    const read = (position: number, length: number) =>
      whole ? Promise.resolve(whole.subarray(position, position + length)) : readAt(fh, position, length);
    await forEachLimited(files, WRITERS, async ({ entry, target }) => {
      const dataStart = await localDataStart(read, zipFile, entry, dataEnd);
      // (createReadStream cannot read an empty range: an empty entry is never streamed.)
      if (Math.max(entry.compressedSize, entry.size) > STREAM_ABOVE && entry.compressedSize > 0) {
        await streamEntry(zipFile, entry, dataStart, target);
        return;
      }
      const raw = await read(dataStart, entry.compressedSize);
      if (raw.length !== entry.compressedSize) throw new Error(`${zipFile}: cannot extract "${entry.name}": truncated archive`);
      await fs.writeFile(target, inflateEntry(zipFile, entry, raw));
    });
    return files.length;
  } finally {
    await fh.close();
  }
}

/** "x/" if every entry name starts with the same folder "x/", else "". */
export function commonTopFolder(names: string[]): string {
  if (names.length === 0) return '';
  const first = names[0];
  const slash = first.indexOf('/');
  if (slash <= 0) return '';
  const top = first.slice(0, slash + 1);
  return names.every((n) => n.startsWith(top)) ? top : '';
}

/** Rejects absolute paths, drives, ".." segments and NULs (zip-slip / hostile list entries). */
export function safeRelative(rel: string, origin: string): string {
  const segments = rel.split('/');
  if (path.isAbsolute(rel) || /^[A-Za-z]:/.test(rel) || segments.includes('..') || rel.includes('\0')) {
    throw new Error(`${origin}: refusing unsafe path "${rel}"`);
  }
  return rel;
}

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? buf : buf.subarray(0, done);
}

function u64(buf: Buffer, at: number, what: string): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${what} is out of range`);
  return Number(v);
}

/** The central directory's entries, and where the entries' data must end (the directory's start). */
async function readCentralDirectory(
  fh: FileHandle,
  zipFile: string,
  maxEntries: number,
): Promise<{ entries: Entry[]; dataEnd: number; fileSize: number }> {
  const corrupt = (why: string) => new Error(`${zipFile}: not a readable zip archive (${why})`);
  const { size: fileSize } = await fh.stat();
  const tailLength = Math.min(fileSize, END_SIZE + MAX_COMMENT);
  const tail = await readAt(fh, fileSize - tailLength, tailLength);
  let end = -1;
  for (let i = tail.length - END_SIZE; i >= 0; i--) {
    if (tail.readUInt32LE(i) === SIG_END && i + END_SIZE + tail.readUInt16LE(i + 20) <= tail.length) {
      end = i;
      break;
    }
  }
  if (end < 0) throw corrupt('no end of central directory record');
  const endOffset = fileSize - tailLength + end;
  if (tail.readUInt16LE(end + 4) !== 0 || tail.readUInt16LE(end + 6) !== 0) throw corrupt('multi-disk archives are not supported');
  let count = tail.readUInt16LE(end + 10);
  let cdSize = tail.readUInt32LE(end + 12);
  let cdOffset = tail.readUInt32LE(end + 16);
  let cdEnd = endOffset;
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    // ZIP64: a locator just before the end record points at the ZIP64 end record.
    if (endOffset < 20) throw corrupt('no ZIP64 end of central directory locator');
    const locator = await readAt(fh, endOffset - 20, 20);
    if (locator.readUInt32LE(0) !== SIG_END64_LOCATOR) throw corrupt('no ZIP64 end of central directory locator');
    const end64Offset = u64(locator, 8, 'ZIP64 end record offset');
    const end64 = await readAt(fh, end64Offset, 56);
    if (end64.length < 56 || end64.readUInt32LE(0) !== SIG_END64) throw corrupt('bad ZIP64 end of central directory record');
    count = u64(end64, 32, 'ZIP64 entry count');
    cdSize = u64(end64, 40, 'ZIP64 central directory size');
    cdOffset = u64(end64, 48, 'ZIP64 central directory offset');
    cdEnd = end64Offset;
  }
  if (count > maxEntries) throw new Error(`${zipFile}: refusing an archive of ${count} entries (at most ${maxEntries})`);
  if (cdOffset + cdSize > cdEnd) throw corrupt('central directory out of bounds');
  const cd = await readAt(fh, cdOffset, cdSize);
  if (cd.length !== cdSize) throw corrupt('central directory truncated');

  const entries: Entry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== SIG_CENTRAL) throw corrupt(`bad central directory entry #${i + 1}`);
    const madeBy = cd.readUInt16LE(p + 4);
    const flags = cd.readUInt16LE(p + 8);
    const method = cd.readUInt16LE(p + 10);
    const crc = cd.readUInt32LE(p + 16);
    let compressedSize = cd.readUInt32LE(p + 20);
    let size = cd.readUInt32LE(p + 24);
    const nameLength = cd.readUInt16LE(p + 28);
    const extraLength = cd.readUInt16LE(p + 30);
    const commentLength = cd.readUInt16LE(p + 32);
    const externalAttributes = cd.readUInt32LE(p + 38);
    let localOffset = cd.readUInt32LE(p + 42);
    const nameStart = p + 46;
    const extraStart = nameStart + nameLength;
    const next = extraStart + extraLength + commentLength;
    if (next > cd.length) throw corrupt(`central directory entry #${i + 1} runs past the directory`);
    const name = cd.toString('utf8', nameStart, extraStart).replace(/\\/g, '/');
    if (size === 0xffffffff || compressedSize === 0xffffffff || localOffset === 0xffffffff) {
      // ZIP64 extended information (0x0001): the 64-bit values, in this order, of those fields that are 0xFFFFFFFF.
      let x = extraStart;
      let found = false;
      while (x + 4 <= extraStart + extraLength) {
        const id = cd.readUInt16LE(x);
        const len = cd.readUInt16LE(x + 2);
        if (x + 4 + len > extraStart + extraLength) break;
        if (id === 0x0001) {
          let f = x + 4;
          const field = (what: string) => {
            if (f + 8 > x + 4 + len) throw corrupt(`"${name}": short ZIP64 extra field`);
            const v = u64(cd, f, `"${name}" ${what}`);
            f += 8;
            return v;
          };
          if (size === 0xffffffff) size = field('size');
          if (compressedSize === 0xffffffff) compressedSize = field('compressed size');
          if (localOffset === 0xffffffff) localOffset = field('offset');
          found = true;
          break;
        }
        x += 4 + len;
      }
      if (!found) throw corrupt(`"${name}": no ZIP64 extra field`);
    }
    const unixMode = madeBy >> 8 === 3 ? externalAttributes >>> 16 : 0;
    entries.push({
      name,
      method,
      flags,
      crc,
      compressedSize,
      size,
      localOffset,
      isDirectory: name.endsWith('/'),
      isSymlink: (unixMode & 0o170000) === 0o120000,
    });
    p = next;
  }
  return { entries, dataEnd: cdOffset, fileSize };
}

/** Where an entry's data starts, past its local header; checks the data lies before the central directory. */
async function localDataStart(
  read: (position: number, length: number) => Promise<Buffer>,
  zipFile: string,
  entry: Entry,
  dataEnd: number,
): Promise<number> {
  const header = await read(entry.localOffset, 30);
  if (header.length !== 30 || header.readUInt32LE(0) !== SIG_LOCAL) {
    throw new Error(`${zipFile}: cannot extract "${entry.name}": bad local header (corrupt archive)`);
  }
  const start = entry.localOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
  if (start + entry.compressedSize > dataEnd) {
    throw new Error(`${zipFile}: cannot extract "${entry.name}": its data runs past the archive's entries (corrupt archive)`);
  }
  return start;
}

/** A small entry inflated in memory, checked against its declared size and CRC-32. */
function inflateEntry(zipFile: string, entry: Entry, raw: Buffer): Buffer {
  let data = raw;
  if (entry.method === 8 && !(raw.length === 0 && entry.size === 0)) {
    try {
      // maxOutputLength bounds the memory: zlib stops one byte past the declared size.
      data = zlib.inflateRawSync(raw, { maxOutputLength: entry.size + 1 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(zipFile, entry);
      throw new Error(`${zipFile}: cannot extract "${entry.name}": ${(err as Error).message} (corrupt archive)`);
    }
  }
  if (data.length > entry.size) throw tooLarge(zipFile, entry);
  if (data.length < entry.size) {
    throw new Error(
      `${zipFile}: cannot extract "${entry.name}": inflates to ${data.length} bytes, not the ${entry.size} its header declares (corrupt archive)`,
    );
  }
  checkCrc(zipFile, entry, crc32(data));
  return data;
}

/** A large entry streamed from the archive through inflate to its file, with the same checks. */
async function streamEntry(zipFile: string, entry: Entry, dataStart: number, target: string): Promise<void> {
  let written = 0;
  let crc = 0;
  const check = new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      written += chunk.length;
      if (written > entry.size) return done(tooLarge(zipFile, entry));
      crc = crc32(chunk, crc);
      done(null, chunk);
    },
    flush(done: TransformCallback) {
      if (written !== entry.size) {
        return done(new Error(`${zipFile}: cannot extract "${entry.name}": inflates to ${written} bytes, not the ${entry.size} its header declares (corrupt archive)`));
      }
      try {
        checkCrc(zipFile, entry, crc);
        done();
      } catch (err) {
        done(err as Error);
      }
    },
  });
  const source = createReadStream(zipFile, { start: dataStart, end: dataStart + entry.compressedSize - 1 });
  try {
    if (entry.method === 8) await pipeline(source, zlib.createInflateRaw(), check, createWriteStream(target));
    else await pipeline(source, check, createWriteStream(target));
  } catch (err) {
    await fs.rm(target, { force: true });
    if ((err as Error).message.startsWith(`${zipFile}:`)) throw err;
    throw new Error(`${zipFile}: cannot extract "${entry.name}": ${(err as Error).message} (corrupt archive)`);
  }
}

function tooLarge(zipFile: string, entry: Entry): Error {
  return new Error(`${zipFile}: cannot extract "${entry.name}": it inflates to more than the ${entry.size} bytes its header declares (corrupt archive or zip bomb)`);
}

function checkCrc(zipFile: string, entry: Entry, actual: number): void {
  if (actual !== entry.crc) {
    throw new Error(
      `${zipFile}: cannot extract "${entry.name}": CRC-32 mismatch (${hex(actual)}, header says ${hex(entry.crc)}; corrupt archive)`,
    );
  }
}

const hex = (n: number) => n.toString(16).padStart(8, '0');

/** Node's native CRC-32 (Node ≥ 20.15 / 22.2), else a table-driven one in JavaScript. */
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
export const crc32: (data: Uint8Array, value?: number) => number = nativeCrc32 ?? jsCrc32;

let crcTable: Int32Array | undefined;
export function jsCrc32(data: Uint8Array, value = 0): number {
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  const table = crcTable;
  let c = ~value;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** fn over items, at most limit at once; on a failure the others stop taking items, and all settle before it is thrown. */
async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      try {
        await fn(items[next++]);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
}
