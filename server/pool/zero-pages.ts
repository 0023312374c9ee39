/**
 * Gives the system back the pages of a worker's wasm memory that hold nothing but zeros. php.wasm
 * zeroes opcache's shared memory as it boots (Emscripten's anonymous mmap is a memset), so all of it
 * is resident whether opcache fills it or not; with PHP's zeroed start-up state, 17 of each
 * WordPress worker's 57 resident MB were zero pages (measured). Wasm memory never shrinks, and
 * malloc_trim does not reach it: it is V8's private anonymous mapping. madvise(MADV_DONTNEED) drops
 * such a page, and the next access reads zeros, so dropping a page that is all zeros keeps its
 * content. mincore limits the scan to resident pages: reading one that is not would bring it in.
 *
 * Only the thread that owns the memory may do this, each slice in one synchronous step: a write
 * landing between a page's check and its madvise would be lost.
 */
import { createRequire } from 'node:module';
import { runsOnGlibc } from '../malloc-tunables.js';

/** `count` pages from page `first`. */
export interface PageRun {
  first: number;
  count: number;
}

/** The system calls, on views whose start is page-aligned. */
export interface PageCalls {
  pageBytes: number;
  /** Fills `flags` with one byte a page, bit 0 set when resident; false when the call failed. */
  residentPages(view: Uint8Array, flags: Uint8Array): boolean;
  /** Drops the view's pages (they read as zeros afterwards); false when the call failed. */
  dropPages(view: Uint8Array): boolean;
  /** The errno of the last failed call, for the log. */
  lastError(): string;
}

/** Runs of pages that are resident (bit 0 of `resident`) and all zeros. `words` spans whole pages. */
export function zeroPageRuns(words: Int32Array, pageBytes: number, resident: Uint8Array): PageRun[] {
  const pageWords = pageBytes / 4;
  const pages = Math.floor(words.length / pageWords);
  const runs: PageRun[] = [];
  let runStart = -1;
  for (let page = 0; page <= pages; page++) {
    const zero = page < pages && (resident[page] & 1) === 1 && wordsAreZero(words, page * pageWords, pageWords);
    if (zero && runStart < 0) runStart = page;
    if (!zero && runStart >= 0) {
      runs.push({ first: runStart, count: page - runStart });
      runStart = -1;
    }
  }
  return runs;
}

export function wordsAreZero(words: Int32Array, from: number, count: number): boolean {
  for (let i = from, end = from + count; i < end; i++) if (words[i] !== 0) return false;
  return true;
}

/** What one release did. */
export interface Released {
  bytes: number;
  /** Resident pages before, in bytes. */
  residentBytes: number;
}

/** Bytes one synchronous step scans at most (~10 ms when all zeros): a request waits for one step at most. */
export const SLICE_BYTES = 32 << 20;

/**
 * Drops the resident all-zero pages of `memory` (a wasm memory's buffer) in [from, to), both on page
 * boundaries. Throws when a system call fails (for instance a buffer that does not start on a page):
 * nothing is dropped after that. Memory other threads can write (a SharedArrayBuffer) is refused.
 */
export function releaseZeroPages(memory: ArrayBuffer, calls: PageCalls, from = 0, to = memory.byteLength): Released {
  if (!(memory instanceof ArrayBuffer)) throw new Error('wasm memory that other threads can write is never released');
  const { pageBytes } = calls;
  const firstPage = Math.ceil(from / pageBytes);
  const pages = Math.floor(Math.min(to, memory.byteLength) / pageBytes) - firstPage;
  if (pages <= 0) return { bytes: 0, residentBytes: 0 };
  const start = firstPage * pageBytes;
  const resident = new Uint8Array(pages);
  if (!calls.residentPages(new Uint8Array(memory, start, pages * pageBytes), resident)) throw new Error(`mincore failed on wasm memory (${calls.lastError()})`);
  let residentPages = 0;
  for (const flag of resident) residentPages += flag & 1;
  let bytes = 0;
  for (const run of zeroPageRuns(new Int32Array(memory, start, (pages * pageBytes) / 4), pageBytes, resident)) {
    const length = run.count * pageBytes;
    if (!calls.dropPages(new Uint8Array(memory, start + run.first * pageBytes, length))) throw new Error(`madvise failed on wasm memory (${calls.lastError()})`);
    bytes += length;
  }
  return { bytes, residentBytes: residentPages * pageBytes };
}

const MADV_DONTNEED = 4;
const SC_PAGESIZE = 30;

/** The calls through koffi (glibc only), or why they are not available. */
export function loadPageCalls(): PageCalls | { unavailable: string } {
  try {
    if (!runsOnGlibc()) return { unavailable: 'not glibc' };
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    const libc = koffi.load('libc.so.6');
    const mincore = libc.func('int mincore(void *addr, size_t length, _Out_ uint8_t *vec)') as (addr: Uint8Array, length: number, vec: Uint8Array) => number;
    const madvise = libc.func('int madvise(void *addr, size_t length, int advice)') as (addr: Uint8Array, length: number, advice: number) => number;
    const sysconf = libc.func('long sysconf(int name)') as (name: number) => number;
    const pageBytes = Number(sysconf(SC_PAGESIZE));
    // Wasm memory grows by 64 KiB, so pages must divide that; a view of whole pages then ends on one.
    if (!(pageBytes >= 4096 && 65536 % pageBytes === 0)) return { unavailable: `page size ${pageBytes}` };
    return {
      pageBytes,
      residentPages: (view, flags) => mincore(view, view.byteLength, flags) === 0,
      dropPages: (view) => madvise(view, view.byteLength, MADV_DONTNEED) === 0,
      lastError: () => `errno ${koffi.errno()}`,
    };
  } catch (error) {
    return { unavailable: `koffi did not load: ${String(error)}` };
  }
}
