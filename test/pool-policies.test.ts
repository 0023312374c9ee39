/**
 * The pool's policies with fake workers (test/helpers/fake-workers.ts): what happens when, without
 * PHP and without waiting on wall-clock time beyond the timers under test.
 */
import t from 'tap';
import { PoolError, type WorkerPool } from '../server/pool/pool.js';
import { FAKE_JOB, fakePool, type FakeWorker } from './helpers/fake-workers.js';
import { until } from './helpers/until.js';

t.test('a timed-out request is answered 504 even while its worker takes long to stop; a replacement starts at once', async (t) => {
  const { pool, workers } = fakePool({ requestTimeoutMs: 30 }, ['hang']);
  await pool.start();
  const error = await pool.run(FAKE_JOB, null).then(() => undefined, (caught: unknown) => caught);
  t.ok(error instanceof PoolError && error.status === 504, '504 for the client');
  t.ok(workers[0]!.terminated, 'the worker was told to stop');
  t.equal(workers.length, 2, 'its replacement was started without waiting for it to end');

  const served = await pool.run(FAKE_JOB, null);
  t.equal(served.whole?.toString(), `worker ${workers[1]!.processId}`, 'the replacement serves the next request');
  t.equal(pool.stats.workers, 1, 'capacity is back to one worker');
  workers[0]!.finishTerminate();
  await pool.close(0);
});

/** Makes a fake 'hang' worker answer the request it holds. */
function answer(worker: FakeWorker): void {
  const run = worker.runs.at(-1)!;
  worker.emit('message', { type: 'head', id: run.id, status: 200, headers: {}, data: new TextEncoder().encode(`worker ${worker.processId}`), end: { exitCode: 0, errors: '', memoryBytes: 1 } });
}

/** 'hang' workers stop only when told to. */
async function closeFakePool(pool: WorkerPool, workers: FakeWorker[]): Promise<void> {
  for (const worker of workers) worker.finishTerminate();
  await pool.close(0);
}

t.test('a self-call finding every worker busy gets a self-call worker, which visitors never get', async (t) => {
  const { pool, workers } = fakePool({ selfCallWorkers: 1 }, ['hang', 'hang']);
  await pool.start();
  const caller = pool.run(FAKE_JOB, null); // holds the only worker, as a page waiting on its own self-call would
  const selfCall = pool.run(FAKE_JOB, null, undefined, { selfCall: true });
  await until('the self-call worker to take the self-call', () => workers[1]?.runs.length === 1);
  t.equal(pool.stats.selfCallWorkers, 1, 'one self-call worker started');
  answer(workers[1]!);
  t.equal((await selfCall).whole?.toString(), `worker ${workers[1]!.processId}`, 'the self-call was served by it');

  const visitor = pool.run(FAKE_JOB, null);
  await until('the visitor to queue', () => pool.stats.queued === 1);
  t.equal(pool.stats.idle, 1, 'while the self-call worker is idle');
  t.equal(workers[1]!.runs.length, 1, 'the visitor did not get the self-call worker');
  answer(workers[0]!);
  await caller;
  await until('the visitor to reach the pool worker', () => workers[0]!.runs.length === 2);
  answer(workers[0]!);
  t.equal((await visitor).whole?.toString(), `worker ${workers[0]!.processId}`, 'the visitor waited for a pool worker');
  await closeFakePool(pool, workers);
});

t.test('self-calls take an idle pool worker first, start no more self-call workers than allowed, and queue for them', async (t) => {
  const { pool, workers } = fakePool({ size: 2, selfCallWorkers: 1 }, ['hang', 'hang', 'hang']);
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
  for (const worker of workers.slice(0, 3)) answer(worker);
  await Promise.all([first, second, third]);
  await until('the waiting self-call to be served', () => pool.stats.queued === 0 && pool.stats.busy === 1);
  answer(workers.find((w) => w.runs.length === 2)!);
  t.ok((await fourth).whole, 'the fourth was served once a worker was free');
  await closeFakePool(pool, workers);
});

t.test('without self-call workers a self-call waits like any request, bounded by the queue timeout', async (t) => {
  const { pool, workers } = fakePool({ selfCallWorkers: 0, queueTimeoutMs: 50 }, ['hang']);
  await pool.start();
  void pool.run(FAKE_JOB, null).catch(() => undefined);
  const error = await pool.run(FAKE_JOB, null, undefined, { selfCall: true }).then(() => undefined, (caught: unknown) => caught);
  t.ok(error instanceof PoolError && error.status === 503, '503 once the queue timeout passed');
  t.equal(workers.length, 1, 'no extra worker was started');
  await closeFakePool(pool, workers);
});

t.test('a self-call worker leaves once idle for selfCallWorkerIdleMs, and another starts when needed', async (t) => {
  const { pool, workers } = fakePool({ selfCallWorkers: 1, selfCallWorkerIdleMs: 20 }, ['hang', 'answer', 'answer']);
  await pool.start();
  void pool.run(FAKE_JOB, null).catch(() => undefined); // holds the only pool worker
  await pool.run(FAKE_JOB, null, undefined, { selfCall: true });
  t.equal(pool.stats.selfCallWorkers, 1, 'a self-call worker served the self-call');
  await until('it to leave', () => pool.stats.selfCallWorkers === 0);
  t.ok(workers[1]!.terminated, 'its thread was stopped');
  t.equal(pool.stats.workers, 1, 'the pool worker stays');
  const again = await pool.run(FAKE_JOB, null, undefined, { selfCall: true });
  t.equal(again.whole?.toString(), `worker ${workers[2]!.processId}`, 'the next self-call gets a new one');
  await closeFakePool(pool, workers);
});

t.test("a job's own timeout replaces the pool's (the server's wp-cron runs get longer than visitors)", async (t) => {
  const { pool, workers } = fakePool({ requestTimeoutMs: 60_000 }, ['hang']);
  await pool.start();
  const error = await pool.run(FAKE_JOB, null, undefined, { timeoutMs: 30 }).then(() => undefined, (caught: unknown) => caught);
  t.ok(error instanceof PoolError && error.status === 504 && /longer than 0\.03 s/.test(error.message), `504 after the job's own 30 ms (${(error as Error)?.message})`);
  await closeFakePool(pool, workers);
});
