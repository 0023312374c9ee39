/**
 * Freed memory goes back to the system once the pool is quiet after work: glibc's malloc_trim,
 * called through koffi (server/malloc-trim.ts) by the quiet trimmer (server/pool/quiet-trim.ts).
 */
import t from 'tap';
import { loadMallocTrim } from '../server/malloc-trim.js';
import { QuietTrimmer } from '../server/pool/quiet-trim.js';
import { runsOnGlibc } from '../server/malloc-tunables.js';
import { captureLogger, startTestServer } from './helpers/server.js';
import { until } from './helpers/until.js';

t.test('malloc_trim is callable here (glibc, koffi loaded) and returns', async (t) => {
  t.ok(runsOnGlibc(), 'this machine runs glibc');
  const { log, logs } = captureLogger();
  const trim = loadMallocTrim(log);
  t.type(trim, 'function', `loaded (${JSON.stringify(logs)})`);
  await t.resolves(trim!(), 'a trim completes on the thread pool');
});

t.test('the trimmer trims once per quiet spell after work, never while the pool is busy', async (t) => {
  const { log, logs } = captureLogger();
  let quiet = false;
  let activity = 'a';
  let trims = 0;
  let failNext = false;
  let hold: Promise<void> | undefined;
  const trimmer = new QuietTrimmer({ quiet: () => quiet, activity: () => activity }, () => {
    trims++;
    if (failNext) {
      failNext = false;
      return Promise.reject(new Error('no'));
    }
    return hold ?? Promise.resolve();
  }, log);

  await trimmer.check();
  t.equal(trims, 0, 'busy: no trim');
  quiet = true;
  await trimmer.check();
  t.equal(trims, 1, 'quiet after work: a trim');
  await trimmer.check();
  t.equal(trims, 1, 'still quiet, nothing new: no second trim');
  activity = 'b';
  await trimmer.check();
  t.equal(trims, 2, 'work happened since: trims again');
  t.ok(logs.some((l) => l.msg === 'returned freed memory to the system' && typeof l.rssBefore === 'number'), 'each trim is logged with the RSS around it');

  activity = 'c';
  let release!: () => void;
  hold = new Promise<void>((resolve) => { release = resolve; });
  const first = trimmer.check();
  await trimmer.check();
  t.equal(trims, 3, 'a check while a trim runs does not start another');
  release();
  hold = undefined;
  await first;

  activity = 'd';
  failNext = true;
  await trimmer.check();
  await trimmer.check();
  t.equal(trims, 4, 'a failed trim is logged, and not retried for the same spell');
  t.ok(logs.some((l) => l.msg === 'returning freed memory to the system failed'));
});

t.test('a real server trims after its requests, once the pool is quiet', async (t) => {
  const server = await startTestServer({ workers: 2 });
  t.teardown(() => server.close());
  for (let i = 0; i < 5; i++) t.equal((await fetch(`${server.url}/index.php`)).status, 200);
  const trimmed = () => server.logs.filter((l) => l.msg === 'returned freed memory to the system');
  await until('a trim after the requests', () => trimmed().length > 0, 30_000);
  t.type(trimmed()[0]!.rssAfter, 'number');
});
