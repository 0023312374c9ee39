import t from 'tap';
import { clearPages, gapsBetween, nonZeroPageRuns, runsAreSound } from '../server/pool/image-pages.js';

const PAGE = 4096;
const WORDS = PAGE / 4;

/** Eight pages, with one word set in each of `pages`. */
function memoryWith(pages: number[]): Int32Array {
  const words = new Int32Array((8 * PAGE) / 4);
  for (const page of pages) words[page * WORDS + 7] = page + 1;
  return words;
}

t.test('nonZeroPageRuns: runs of pages holding anything, within the range asked', async (t) => {
  const words = memoryWith([0, 1, 4, 7]);
  t.same(nonZeroPageRuns(words, PAGE, 0, 8), [{ first: 0, count: 2 }, { first: 4, count: 1 }, { first: 7, count: 1 }]);
  t.same(nonZeroPageRuns(words, PAGE, 1, 5), [{ first: 1, count: 1 }, { first: 4, count: 1 }]);
  t.same(nonZeroPageRuns(new Int32Array((8 * PAGE) / 4), PAGE, 0, 8), []);
});

t.test('clearPages: zeroes the non-zero pages of the range, leaves the rest as it was', async (t) => {
  const words = memoryWith([0, 2, 3, 6]);
  clearPages(words, PAGE, 1, 5);
  t.same(nonZeroPageRuns(words, PAGE, 0, 8), [{ first: 0, count: 1 }, { first: 6, count: 1 }]);
});

t.test('gapsBetween: the pages between runs, and after the last up to the end', async (t) => {
  t.same(gapsBetween([{ first: 0, count: 2 }, { first: 4, count: 1 }], 8), [{ first: 2, count: 2 }, { first: 5, count: 3 }]);
  t.same(gapsBetween([], 3), [{ first: 0, count: 3 }]);
  t.same(gapsBetween([{ first: 0, count: 3 }], 3), []);
  t.same(gapsBetween([{ first: 1, count: 1 }], 3), [{ first: 0, count: 1 }, { first: 2, count: 1 }]);
});

t.test('runsAreSound: sorted, not overlapping, not empty, within the memory', async (t) => {
  t.ok(runsAreSound([{ first: 0, count: 2 }, { first: 4, count: 4 }], 8));
  t.ok(runsAreSound([], 0));
  t.notOk(runsAreSound([{ first: 4, count: 1 }, { first: 0, count: 1 }], 8), 'out of order');
  t.notOk(runsAreSound([{ first: 0, count: 3 }, { first: 2, count: 1 }], 8), 'overlapping');
  t.notOk(runsAreSound([{ first: 0, count: 0 }], 8), 'empty');
  t.notOk(runsAreSound([{ first: 6, count: 3 }], 8), 'past the end');
  t.notOk(runsAreSound([{ first: 0.5, count: 1 }], 8), 'not whole pages');
});
