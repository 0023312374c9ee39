/**
 * Which pages of a wasm memory a warm image must store, and which a restored instance must clear
 * (see warm-image.ts). Pure: they read word views only. Every page is read: a page swapped out is
 * not resident, yet not zero, so residency (mincore) cannot stand in for a read.
 */
import { wordsAreZero, type PageRun } from './zero-pages.js';

export type { PageRun };

/**
 * Runs of pages in [fromPage, toPage) that hold at least one non-zero word. `words` spans whole
 * pages.
 */
export function nonZeroPageRuns(words: Int32Array, pageBytes: number, fromPage: number, toPage: number): PageRun[] {
  const pageWords = pageBytes / 4;
  const runs: PageRun[] = [];
  let runStart = -1;
  for (let page = fromPage; page <= toPage; page++) {
    const used = page < toPage && !wordsAreZero(words, page * pageWords, pageWords);
    if (used && runStart < 0) runStart = page;
    if (!used && runStart >= 0) {
      runs.push({ first: runStart, count: page - runStart });
      runStart = -1;
    }
  }
  return runs;
}

/** Zeroes the pages in [fromPage, toPage) that are not zero already (a fill would make every page resident). */
export function clearPages(words: Int32Array, pageBytes: number, fromPage: number, toPage: number): void {
  const pageWords = pageBytes / 4;
  for (const run of nonZeroPageRuns(words, pageBytes, fromPage, toPage)) words.fill(0, run.first * pageWords, (run.first + run.count) * pageWords);
}

/** The gaps between sorted, non-overlapping runs within [0, totalPages): the pages an image holds as zeros. */
export function gapsBetween(runs: readonly PageRun[], totalPages: number): PageRun[] {
  const gaps: PageRun[] = [];
  let next = 0;
  for (const run of runs) {
    if (run.first > next) gaps.push({ first: next, count: run.first - next });
    next = run.first + run.count;
  }
  if (next < totalPages) gaps.push({ first: next, count: totalPages - next });
  return gaps;
}

/** Runs sorted, each within [0, totalPages), none empty or overlapping the one before: what a restore may trust. */
export function runsAreSound(runs: readonly PageRun[], totalPages: number): boolean {
  let next = 0;
  for (const run of runs) {
    if (!Number.isInteger(run.first) || !Number.isInteger(run.count) || run.count <= 0 || run.first < next) return false;
    next = run.first + run.count;
  }
  return next <= totalPages;
}
