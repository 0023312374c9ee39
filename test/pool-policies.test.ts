/**
 * The pool's policies with fake workers (test/helpers/fake-workers.ts): what happens when, without
 * PHP and without waiting on wall-clock time beyond the timers under test.
 */
import t from 'tap';
import { PoolError } from '../server/pool/pool.js';
import { FAKE_JOB, fakePool } from './helpers/fake-workers.js';

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
