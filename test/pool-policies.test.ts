/**
 * The pool's policies with fake workers and a fake clock (test/helpers/fake-workers.ts): what
 * happens when, without PHP and without waiting on wall-clock time. See also pool-lifecycle.test.ts.
 */
import t from 'tap';
import { PoolError } from '../server/pool/pool.js';
import { FAKE_JOB, closeFakePool, fakePool } from './helpers/fake-workers.js';
import { until } from './helpers/until.js';

t.test('a timed-out request is answered 504 even while its worker takes long to stop; a replacement starts at once', async (t) => {
  const fake = fakePool({ requestTimeoutMs: 30 }, ['hang']);
  const { pool, workers, clock } = fake;
  await pool.start();
  const answer = pool.run(FAKE_JOB, null).then(() => undefined, (caught: unknown) => caught);
  await clock.advance(30 + 250); // the timeout, then at most 250 ms waiting for the thread to stop
  const error = await answer;
  t.ok(error instanceof PoolError && error.status === 504, '504 for the client');
  t.ok(workers[0]!.terminated, 'the worker was told to stop');
  t.equal(workers.length, 2, 'its replacement was started without waiting for it to end');

  const served = await pool.run(FAKE_JOB, null);
  t.equal(served.whole?.toString(), `worker ${workers[1]!.processId}`, 'the replacement serves the next request');
  t.equal(pool.stats.workers, 1, 'capacity is back to one worker');
  await closeFakePool(fake);
});

t.test('a self-call finding every worker busy gets a self-call worker, which visitors never get', async (t) => {
  const fake = fakePool({ selfCallWorkers: 1 }, ['hang', 'hang']);
  const { pool, workers } = fake;
  await pool.start();
  const caller = pool.run(FAKE_JOB, null); // holds the only worker, as a page waiting on its own self-call would
  const selfCall = pool.run(FAKE_JOB, null, undefined, { selfCall: true });
  await until('the self-call worker to take the self-call', () => workers[1]?.runs.length === 1);
  t.equal(pool.stats.selfCallWorkers, 1, 'one self-call worker started');
  workers[1]!.answer();
  t.equal((await selfCall).whole?.toString(), `worker ${workers[1]!.processId}`, 'the self-call was served by it');

  const visitor = pool.run(FAKE_JOB, null);
  await until('the visitor to queue', () => pool.stats.queued === 1);
  t.equal(pool.stats.idle, 1, 'while the self-call worker is idle');
  t.equal(workers[1]!.runs.length, 1, 'the visitor did not get the self-call worker');
  workers[0]!.answer();
  await caller;
  await until('the visitor to reach the pool worker', () => workers[0]!.runs.length === 2);
  workers[0]!.answer();
  t.equal((await visitor).whole?.toString(), `worker ${workers[0]!.processId}`, 'the visitor waited for a pool worker');
  await closeFakePool(fake);
});

t.test('self-calls take an idle pool worker first, start no more self-call workers than allowed, and queue for them', async (t) => {
  const fake = fakePool({ size: 2, selfCallWorkers: 1 }, ['hang', 'hang', 'hang']);
  const { pool, workers } = fake;
  await pool.start();
  const first = pool.run(FAKE_JOB, null, undefined, { selfCall: true });
  await until('a pool worker to take it', () => workers[0]!.runs.length + workers[1]!.runs.length === 1);
  t.equal(workers.length, 2, 'no self-call worker while a pool worker was idle');
  const second = pool.run(FAKE_JOB, null, undefined, { selfCall: true });
  const third = pool.run(FAKE_JOB, null, undefined, { selfCall: true });
  const fourth = pool.run(FAKE_JOB, null, undefined, { selfCall: true });
  await until('the self-call worker to take one', () => workers[2]?.runs.length === 1);
  t.equal(workers.length, 3, 'one self-call worker, the most allowed');
  t.equal(pool.stats.queued, 1, 'the fourth waits');
  for (const worker of workers.slice(0, 3)) worker.answer();
  await Promise.all([first, second, third]);
  await until('the waiting self-call to be served', () => pool.stats.queued === 0 && pool.stats.busy === 1);
  workers.find((w) => w.runs.length === 2)!.answer();
  t.ok((await fourth).whole, 'the fourth was served once a worker was free');
  await closeFakePool(fake);
});

t.test('without self-call workers a self-call waits like any request, bounded by the queue timeout', async (t) => {
  const fake = fakePool({ selfCallWorkers: 0, queueTimeoutMs: 50 }, ['hang']);
  const { pool, workers } = fake;
  await pool.start();
  void pool.run(FAKE_JOB, null).catch(() => undefined);
  const answer = pool.run(FAKE_JOB, null, undefined, { selfCall: true }).then(() => undefined, (caught: unknown) => caught);
  await fake.clock.advance(50);
  const error = await answer;
  t.ok(error instanceof PoolError && error.status === 503, '503 once the queue timeout passed');
  t.equal(workers.length, 1, 'no extra worker was started');
  await closeFakePool(fake);
});

t.test('a self-call worker leaves once idle for selfCallWorkerIdleMs, and another starts when needed', async (t) => {
  const fake = fakePool({ selfCallWorkers: 1, selfCallWorkerIdleMs: 20 }, ['hang', 'answer', 'answer']);
  const { pool, workers } = fake;
  await pool.start();
  void pool.run(FAKE_JOB, null).catch(() => undefined); // holds the only pool worker
  await pool.run(FAKE_JOB, null, undefined, { selfCall: true });
  t.equal(pool.stats.selfCallWorkers, 1, 'a self-call worker served the self-call');
  await fake.clock.advance(20);
  t.equal(pool.stats.selfCallWorkers, 0, 'it left');
  t.ok(workers[1]!.terminated, 'its thread was stopped');
  t.equal(pool.stats.workers, 1, 'the pool worker stays');
  const again = await pool.run(FAKE_JOB, null, undefined, { selfCall: true });
  t.equal(again.whole?.toString(), `worker ${workers[2]!.processId}`, 'the next self-call gets a new one');
  await closeFakePool(fake);
});

t.test("a job's own timeout replaces the pool's (the server's wp-cron runs get longer than visitors)", async (t) => {
  const fake = fakePool({ requestTimeoutMs: 60_000 }, ['hang']);
  const { pool } = fake;
  await pool.start();
  const answer = pool.run(FAKE_JOB, null, undefined, { timeoutMs: 30 }).then(() => undefined, (caught: unknown) => caught);
  await fake.clock.advance(30 + 250);
  const error = await answer;
  t.ok(error instanceof PoolError && error.status === 504 && /longer than 0\.03 s/.test(error.message), `504 after the job's own 30 ms (${(error as Error)?.message})`);
  await closeFakePool(fake);
});
