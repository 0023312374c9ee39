/**
 * A warm worker's memory image, and a new worker started from it (issue #12, snapshot boot).
 *
 * A worker's state lives in two places: its wasm memory (PHP started up, opcache filled by the
 * warm-up) and the JavaScript around it (Emscripten's file descriptors, the mounts, the sandbox).
 * Every worker builds the JavaScript side the same way, so a new one does that as usual and, where
 * PHP would start up (php.wasm's php_wasm_init), takes the memory of a warm worker instead: the
 * pages that are not all zeros, read from a file into its own memory. What the memory refers to
 * outside itself must then exist alike: the descriptors PHP holds open (opcache's lock file, the
 * random device), the function table, and the exported globals. Anything else open is refused, and
 * the worker starts up on its own.
 *
 * Nothing per worker is lost: getmypid() asks the JavaScript side (each worker's own id), file
 * locks are the JavaScript lock table's, and PHP seeds mt_rand, lcg_value and its CSPRNG afresh in
 * every request (ext/random's RINIT), from the random device, which reads the host's CSPRNG.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import type { Runtime } from '../php-wasm/internals.js';
import { clearPages, gapsBetween, nonZeroPageRuns, runsAreSound, type PageRun } from './image-pages.js';

/** Granularity of what is stored: a wasm page (64 KiB) holds 16 of them. */
export const IMAGE_PAGE_BYTES = 4096;

/**
 * Drops the pages of a view of whole IMAGE_PAGE_BYTES pages (madvise MADV_DONTNEED: they read as
 * zeros afterwards, resident or swapped out alike); false when that cannot be done here. Cheaper
 * than reading them: on some hosts (this project's CI among them) even a read costs a fault and a page.
 */
export type DropPages = (view: Uint8Array) => boolean;

/** One open file descriptor of the imaged instance. */
export interface ImageStream {
  fd: number;
  path: string;
  flags: number;
}

/** What a restore needs besides the file's bytes (which are the runs' pages, in order). */
export interface WarmImageMeta {
  /** Wasm memory size when taken. */
  memoryBytes: number;
  /** The imaged worker's memory once booted: its memory ceiling is measured from there (see bootPhp). */
  bootedBytes: number;
  runs: PageRun[];
  streams: ImageStream[];
  /** Values of the instance's exported globals (the stack pointer among them). */
  globals: Record<string, string>;
  tableLength: number;
  /** SHA-256 of the file's bytes (hex), taken as they were written. */
  sha256?: string;
}

/** The bytes of an image's file: its runs' pages. */
export function imageBytes(meta: WarmImageMeta): number {
  return meta.runs.reduce((sum, run) => sum + run.count, 0) * IMAGE_PAGE_BYTES;
}

/** An image as a worker gets it to start from. */
export interface WarmImageRef {
  path: string;
  meta: WarmImageMeta;
  /**
   * Kept from an earlier run (kept-image.ts): the file is checked against this hash before anything
   * is restored, and the worker then makes PHP forget what may have changed since (see php-instance.ts).
   */
  kept?: boolean;
  sha256?: string;
}

/** php.wasm opens these at each request and never uses them again (see direct-request.ts): no state refers to them. */
const LEAKED_REQUEST_DEVICES = new Set(['/request/stdout', '/request/stderr']);
/** Devices without state: opened anew, they read the same. */
const STATELESS_DEVICES = new Set(['/dev/urandom', '/dev/random']);
/** opcache's lock file: made with mkstemp and unlinked at once; only its descriptor is used. */
const OPCACHE_LOCK_FILE = /^\/tmp\/\.ZendSem\.[A-Za-z0-9]+$/;

interface FsStream {
  fd: number;
  path: string;
  flags: number;
}

function openStreams(runtime: Runtime): ImageStream[] {
  return (runtime.FS.streams as Array<FsStream | null | undefined>)
    .filter((stream): stream is FsStream => !!stream)
    .map(({ fd, path, flags }) => ({ fd, path, flags }));
}

function exportedGlobals(exports: WebAssembly.Exports): Map<string, WebAssembly.Global> {
  return new Map(Object.entries(exports).filter((entry): entry is [string, WebAssembly.Global] => entry[1] instanceof WebAssembly.Global));
}

function tableOf(exports: WebAssembly.Exports): WebAssembly.Table {
  const table = exports.__indirect_function_table;
  if (!(table instanceof WebAssembly.Table)) throw new Error("php.wasm exports no function table (__indirect_function_table)");
  return table;
}

/**
 * Writes the instance's non-zero pages to `path` (a new file) and describes them. Only between
 * requests, on the thread that owns the memory: nothing writes to it meanwhile.
 */
export function writeWarmImage(runtime: Runtime, exports: WebAssembly.Exports, path: string, bootedBytes: number): WarmImageMeta {
  const heap = runtime.HEAPU8;
  // Every page is read: one the system swapped out is not resident, yet not zero (mincore cannot tell).
  const runs = nonZeroPageRuns(new Int32Array(heap.buffer, 0, heap.byteLength / 4), IMAGE_PAGE_BYTES, 0, heap.byteLength / IMAGE_PAGE_BYTES);
  const fd = openSync(path, 'wx', 0o600);
  const hash = createHash('sha256');
  try {
    for (const run of runs) {
      const pages = heap.subarray(run.first * IMAGE_PAGE_BYTES, (run.first + run.count) * IMAGE_PAGE_BYTES);
      writeAll(fd, pages);
      hash.update(pages);
    }
  } finally {
    closeSync(fd);
  }
  const globals = Object.fromEntries([...exportedGlobals(exports)].map(([name, global]) => [name, String(global.value)]));
  return { memoryBytes: heap.byteLength, bootedBytes, runs, streams: openStreams(runtime), globals, tableLength: tableOf(exports).length, sha256: hash.digest('hex') };
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.byteLength; ) done += writeSync(fd, bytes, done, bytes.byteLength - done);
}

/** Buffer of the check below: small, so the check costs no memory worth counting. */
const CHECK_CHUNK_BYTES = 1024 * 1024;

/**
 * Whether the image file at `fd` holds exactly `bytes` bytes hashing to `sha256`: read once through a
 * small buffer before any page is restored, so a damaged file is refused while the instance is untouched.
 */
export function imageFileMatches(fd: number, bytes: number, sha256: string): boolean {
  const hash = createHash('sha256');
  const chunk = Buffer.allocUnsafe(CHECK_CHUNK_BYTES);
  let position = 0;
  for (;;) {
    const read = readSync(fd, chunk, 0, chunk.byteLength, position);
    if (read === 0) break;
    position += read;
    if (position > bytes) return false;
    hash.update(chunk.subarray(0, read));
  }
  return position === bytes && hash.digest('hex') === sha256;
}

/** Why the image cannot be taken over by this instance, checked before anything changes; undefined: it can. */
export function refusalOf(runtime: Runtime, exports: WebAssembly.Exports, meta: WarmImageMeta): string | undefined {
  return instanceRefusal(exports, meta) ?? streamRefusal(runtime, meta);
}

/** What the image needs of the instance itself: a sound page list, the same function table and globals. */
function instanceRefusal(exports: WebAssembly.Exports, meta: WarmImageMeta): string | undefined {
  if (!(meta.memoryBytes % IMAGE_PAGE_BYTES === 0) || !runsAreSound(meta.runs, meta.memoryBytes / IMAGE_PAGE_BYTES)) return 'its page list is malformed';
  if (tableOf(exports).length !== meta.tableLength) return `its function table has ${meta.tableLength} entries, this instance's ${tableOf(exports).length}`;
  const globals = exportedGlobals(exports);
  for (const [name, value] of Object.entries(meta.globals)) {
    const global = globals.get(name);
    if (!global) return `this instance has no global ${name}`;
    if (String(global.value) === value) continue;
    try {
      const same = global.value;
      global.value = same; // throws for an immutable global: an address that differs
    } catch {
      return `its global ${name} is ${value}, this instance's ${String(global.value)}`;
    }
  }
  if (globals.size !== Object.keys(meta.globals).length) return 'this instance exports other globals';
  return undefined;
}

/** What the image needs of the instance's descriptors: none open that the image does not hold alike, and only ones it can open again. */
function streamRefusal(runtime: Runtime, meta: WarmImageMeta): string | undefined {
  const theirs = new Map(meta.streams.map((stream) => [stream.fd, stream]));
  for (const ours of openStreams(runtime)) {
    const same = theirs.get(ours.fd);
    if (!same || same.path !== ours.path || same.flags !== ours.flags) return `descriptor ${ours.fd} (${ours.path}) is not open alike in the image`;
  }
  for (const stream of meta.streams) {
    if (runtime.FS.streams[stream.fd] || LEAKED_REQUEST_DEVICES.has(stream.path)) continue;
    if (!STATELESS_DEVICES.has(stream.path) && !OPCACHE_LOCK_FILE.test(stream.path)) return `it holds ${stream.path} open (descriptor ${stream.fd})`;
  }
  return undefined;
}

/**
 * Makes this instance's memory, descriptors and globals the image's. Call where PHP would start up,
 * after refusalOf said yes; `fd` is the image's file, `dropPages` (when there) clears what the
 * image holds as zeros. `growHeap` is Emscripten's own (it renews the
 * memory views). Throws if the file cannot be read whole: the instance is then half-written and must not be used.
 */
export function restoreWarmImage(runtime: Runtime, exports: WebAssembly.Exports, growHeap: (bytes: number) => number, meta: WarmImageMeta, fd: number, dropPages?: DropPages): void {
  // Pages past the current end come zeroed from the growth: only the ones below it may hold this instance's own data.
  const ownPages = runtime.HEAPU8.byteLength / IMAGE_PAGE_BYTES;
  if (runtime.HEAPU8.byteLength < meta.memoryBytes && !growHeap(meta.memoryBytes)) throw new Error(`could not grow wasm memory to the image's ${meta.memoryBytes} bytes`);
  const heap = runtime.HEAPU8;
  const words = new Int32Array(heap.buffer, 0, heap.byteLength / 4);
  for (const gap of gapsBetween(meta.runs, ownPages)) {
    const view = new Uint8Array(heap.buffer, gap.first * IMAGE_PAGE_BYTES, gap.count * IMAGE_PAGE_BYTES);
    if (!dropPages?.(view)) clearPages(words, IMAGE_PAGE_BYTES, gap.first, gap.first + gap.count);
  }
  let position = 0;
  for (const run of meta.runs) {
    const length = run.count * IMAGE_PAGE_BYTES;
    readAll(fd, heap, run.first * IMAGE_PAGE_BYTES, length, position);
    position += length;
  }
  const globals = exportedGlobals(exports);
  for (const [name, value] of Object.entries(meta.globals)) {
    const global = globals.get(name)!;
    if (String(global.value) !== value) global.value = typeof global.value === 'bigint' ? BigInt(value) : Number(value);
  }
  reopenStreams(runtime, meta.streams);
}

/** A reset failed while the image's pages were written: the image itself (a file cut short, memory that cannot grow) is the likely cause. */
export class ImageFault extends Error {}

/**
 * Makes a worker that has served requests the image again (recycling in place): its PHP memory,
 * globals and descriptors become the image's, so nothing PHP kept in its memory survives. Between
 * requests only. Returns why not while nothing has changed yet; throws once it has (the instance must
 * then not be used): an ImageFault while writing the pages, another error before (this worker's own).
 */
export function resetToWarmImage(runtime: Runtime, exports: WebAssembly.Exports, growHeap: (bytes: number) => number, meta: WarmImageMeta, fd: number, dropPages?: DropPages): string | undefined {
  const refused = instanceRefusal(exports, meta);
  if (refused) return refused;
  // What PHP opened since (a persistent connection, leaked request devices) goes with the memory that refers to it.
  const imaged = new Map(meta.streams.map((stream) => [stream.fd, stream]));
  for (const ours of openStreams(runtime)) {
    const same = imaged.get(ours.fd);
    if (same && same.path === ours.path && same.flags === ours.flags) continue;
    try {
      runtime.FS.close(runtime.FS.streams[ours.fd]);
    } catch {
      // Emscripten frees the descriptor even when its device's close fails; one still open is refused below.
    }
  }
  const left = streamRefusal(runtime, meta);
  if (left) throw new Error(`the image cannot be taken over after closing this worker's descriptors: ${left}`);
  // Before any page is written, so what fails here (this worker's own /tmp, say) is told apart from the image's faults.
  reopenStreams(runtime, meta.streams);
  try {
    restoreWarmImage(runtime, exports, growHeap, meta, fd, dropPages);
  } catch (error) {
    throw new ImageFault(String(error));
  }
  return undefined;
}

function readAll(fd: number, heap: Uint8Array, offset: number, length: number, position: number): void {
  for (let done = 0; done < length; ) {
    const read = readSync(fd, heap, offset + done, length - done, position + done);
    if (read === 0) throw new Error('the warm image file ended early');
    done += read;
  }
}

/** Opens what the image's PHP holds open at the same descriptors (refusalOf allowed only these). */
function reopenStreams(runtime: Runtime, streams: ImageStream[]): void {
  const { FS } = runtime;
  for (const stream of streams) {
    if (FS.streams[stream.fd] || LEAKED_REQUEST_DEVICES.has(stream.path)) continue;
    const opened = FS.open(stream.path, stream.flags, 0o600);
    // FS.open takes the lowest free number, which may already be the one wanted.
    if (opened.fd !== stream.fd) {
      FS.dupStream(opened, stream.fd);
      FS.close(opened);
    }
    if (OPCACHE_LOCK_FILE.test(stream.path)) FS.unlink(stream.path);
  }
  for (const stream of streams) {
    if (LEAKED_REQUEST_DEVICES.has(stream.path)) continue;
    const now = FS.streams[stream.fd] as FsStream | undefined;
    if (now?.path !== stream.path || now.flags !== stream.flags) throw new Error(`descriptor ${stream.fd} is not ${stream.path} after the restore (${now?.path ?? 'closed'})`);
  }
}
