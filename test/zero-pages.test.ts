/**
 * Idle workers give back the pages of their wasm memory that are all zeros (server/pool/zero-pages.ts):
 * the scan, the real system calls on a real wasm memory, and a real server that keeps running PHP
 * correctly afterwards.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { loadPageCalls, releaseZeroPages, zeroPageRuns, type PageCalls } from '../server/pool/zero-pages.js';
import { startTestServer, tempDir } from './helpers/server.js';
import { until } from './helpers/until.js';

const PAGE = 4096;
const WORDS = PAGE / 4;

t.test('zero-page runs: resident pages that are all zeros, in runs; a single word elsewhere in a page keeps it', async (t) => {
  const words = new Int32Array(8 * WORDS);
  words[1 * WORDS + WORDS - 1] = 7; // page 1: its last word only
  words[5 * WORDS] = -1; // page 5: its first word only
  const resident = Uint8Array.from([1, 1, 1, 1, 0, 1, 1, 1]); // page 4 not resident
  t.same(zeroPageRuns(words, PAGE, resident), [{ first: 0, count: 1 }, { first: 2, count: 2 }, { first: 6, count: 2 }]);
  t.same(zeroPageRuns(words, PAGE, new Uint8Array(8)), [], 'nothing resident: nothing to drop');
  t.same(zeroPageRuns(words, PAGE, Uint8Array.from([0x81, 0, 0x80, 0, 0, 0, 0, 0])), [{ first: 0, count: 1 }], "only mincore's bit 0 means resident");
  t.same(zeroPageRuns(new Int32Array(WORDS + 5), PAGE, Uint8Array.from([1, 1])), [{ first: 0, count: 1 }], 'a partial page at the end is never touched');
});

t.test('a failing system call stops the release and says which', async (t) => {
  const memory = new WebAssembly.Memory({ initial: 1 }).buffer;
  const calls = (residentOk: boolean, dropOk: boolean): PageCalls => ({
    pageBytes: PAGE,
    residentPages: (_view, flags) => { flags.fill(1); return residentOk; },
    dropPages: () => dropOk,
    lastError: () => 'errno 22',
  });
  t.throws(() => releaseZeroPages(memory, calls(false, true)), /mincore failed on wasm memory \(errno 22\)/);
  t.throws(() => releaseZeroPages(memory, calls(true, false)), /madvise failed/);
  t.same(releaseZeroPages(memory, calls(true, true)), { bytes: 65536, residentBytes: 65536 });
  t.same(releaseZeroPages(memory, calls(true, true), 4096, 3 * 4096), { bytes: 8192, residentBytes: 8192 }, 'a slice: its pages only');
  t.same(releaseZeroPages(memory, calls(true, true), 100, 4096 + 100), { bytes: 0, residentBytes: 0 }, 'a slice covers whole pages only');
  t.throws(() => releaseZeroPages(new SharedArrayBuffer(65536) as unknown as ArrayBuffer, calls(true, true)), /never released/, 'memory other threads can write is refused');
});

t.test('on a real wasm memory, only zero pages are dropped and every byte reads back the same', async (t) => {
  const calls = loadPageCalls();
  if ('unavailable' in calls) return t.fail(`the system calls must load on this machine: ${calls.unavailable}`);
  const memory = new WebAssembly.Memory({ initial: 64 }); // 4 MB
  const bytes = new Uint8Array(memory.buffer);
  const pages = bytes.length / calls.pageBytes;
  bytes.fill(0); // every page resident
  const data = new Set<number>();
  for (let page = 0; page < pages; page += 3) {
    bytes[page * calls.pageBytes + (page * 37) % calls.pageBytes] = (page % 250) + 1;
    data.add(page);
  }
  const before = Uint8Array.from(bytes);
  // In slices that do not end on a slice of pages with data, as the worker scans.
  const cut = 17 * calls.pageBytes;
  const first = releaseZeroPages(memory.buffer, calls, 0, cut);
  const rest = releaseZeroPages(memory.buffer, calls, cut);
  const released = { bytes: first.bytes + rest.bytes, residentBytes: first.residentBytes + rest.residentBytes };
  t.equal(released.bytes, (pages - data.size) * calls.pageBytes, 'every page without data was dropped');
  t.equal(released.residentBytes, bytes.length, 'all of it was resident');

  const resident = new Uint8Array(pages);
  t.ok(calls.residentPages(bytes, resident));
  const residentNow = [...resident.keys()].filter((page) => resident[page]! & 1);
  t.same(residentNow, [...data], 'the dropped pages left memory; the pages with data stayed');
  t.same(releaseZeroPages(memory.buffer, calls), { bytes: 0, residentBytes: data.size * calls.pageBytes }, 'a second release finds nothing new, and reads no dropped page in');
  t.ok(Buffer.from(bytes).equals(Buffer.from(before)), 'the memory reads exactly as before');
});

t.test('a real server: each worker gives back zero pages once warm and when the pool is quiet, and PHP runs correctly on that memory afterwards', async (t) => {
  const docroot = tempDir(t, 'pws-zero-pages-');
  // Large arrays and strings grow PHP's heap into pages given back; new scripts fill opcache's free shared memory.
  const script = (n: number) => `<?php
function f${n}(int $k): string { $a = range(1, 200000 + $k); return md5(implode(',', $a) . str_repeat('x', 3000000)); }
echo f${n}(${n});`;
  for (let n = 0; n < 6; n++) writeFileSync(join(docroot, `s${n}.php`), script(n));
  // 64 MB of zeros, freed: memory that only a release after this request can give back.
  writeFileSync(join(docroot, 'zeros.php'), '<?php $s = str_repeat("\\0", 64 << 20); echo strlen($s); unset($s);');
  const expected = (k: number) => createHash('md5').update(Array.from({ length: 200000 + k }, (_, i) => i + 1).join(',') + 'x'.repeat(3000000)).digest('hex');
  const server = await startTestServer({ docroot, workers: 2, warmup: ['/s0.php'] });
  t.teardown(() => server.close());
  const releases = () => server.logs.filter((l) => l.msg === 'worker gave back wasm memory pages that were all zeros');
  const firstWorker = server.logs.find((l) => l.msg === 'php worker warmed')!.worker;
  const secondWarmed = server.logs.findIndex((l) => l.msg === 'php worker warmed' && l.worker !== firstWorker);
  await until('both workers to give back memory once warm', () => new Set(releases().map((l) => l.worker)).size === 2, 30_000);
  const firstRelease = server.logs.findIndex((l) => l.msg === 'worker gave back wasm memory pages that were all zeros' && l.worker === firstWorker);
  t.ok(firstRelease < secondWarmed, 'the first worker gave back memory as soon as it was warm, while the second was still starting (the pool was not quiet)');
  for (const release of releases()) t.ok((release.bytes as number) > 1 << 20, `worker ${String(release.worker)} gave back ${String(release.bytes)} bytes (opcache's free shared memory alone is more than 1 MB)`);

  const released = releases().length;
  t.equal(await (await fetch(`${server.url}/zeros.php`)).text(), String(64 << 20));
  await until('a release once the pool is quiet again', () => releases().slice(released).some((l) => (l.bytes as number) >= 32 << 20), 30_000);
  t.pass("the freed zeros went back when the pool went quiet");

  // Each script on each worker (two requests at once go to both), old ones from opcache, new ones compiled now.
  for (let n = 0; n < 6; n++) {
    const answers = await Promise.all([1, 2].map(async () => (await fetch(`${server.url}/s${n}.php`)).text()));
    t.same(answers, [expected(n), expected(n)], `s${n}.php gives the right answer on both workers`);
  }
  t.equal(await (await fetch(`${server.url}/s5.php`)).text(), expected(5), 'and again, from opcache');
});
