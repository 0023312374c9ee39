/**
 * The shared lock table across real worker threads: many writers never overlap, and a worker
 * stopped by Worker.terminate (as the pool does on a timeout), even while it holds the table's
 * mutex or in the middle of an update, neither wedges the others nor takes their locks with it.
 */
import { once } from 'node:events';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import t, { type Test } from 'tap';
import { SharedFileLocks } from '../server/pool/locks.js';
import { Cell } from '../server/pool/lock-table/lock-slots.js';
import { STAT_CELLS, Stat, type HammerData } from './helpers/lock-hammer.js';
import { tempDir } from './helpers/server.js';
import { until } from './helpers/until.js';

const HAMMER_URL = new URL('./helpers/lock-hammer.js', import.meta.url);

function start(t: Test, data: Omit<HammerData, 'stats'>, stats: Int32Array): Worker {
  const worker = new Worker(HAMMER_URL, { workerData: { ...data, stats: stats.buffer } });
  t.teardown(() => worker.terminate());
  return worker;
}

const newStats = () => new Int32Array(new SharedArrayBuffer(STAT_CELLS * 4));
const mutexFree = (locks: SharedFileLocks) => Atomics.load(new Int32Array(locks.buffer), Cell.Mutex) === 0;

t.test('4 threads lock one range and one file 1,500 times each: never a writer beside anyone', async (t) => {
  const root = tempDir(t, 'pws-lock-table-');
  const locks = new SharedFileLocks();
  const stats = newStats();
  const rounds = 1500;
  const workers = [1, 2, 3, 4].map((pid) => start(t, { mode: 'hammer', lockTable: locks.buffer, pid, root, rounds }, stats));
  await Promise.all(workers.map((worker) => once(worker, 'message')));
  t.equal(Atomics.load(stats, Stat.Violations), 0, 'no writer met another holder');
  t.equal(Atomics.load(stats, Stat.Grants), 4 * rounds * 2, 'every lock was granted once');
  t.equal(locks.manager.size(), 0, 'all released');
});

t.test('a worker stopped while holding the table\'s mutex: releaseProcess takes it over and frees its locks', async (t) => {
  const root = tempDir(t, 'pws-lock-table-');
  const locks = new SharedFileLocks();
  t.ok(locks.manager.lockWholeFile(join(root, 'mine'), { type: 'exclusive', pid: 1, fd: 3, waitForLock: false }));
  const worker = start(t, { mode: 'hold-mutex', lockTable: locks.buffer, pid: 7, root }, newStats());
  await once(worker, 'message');
  t.notOk(mutexFree(locks), 'the worker holds the mutex');
  await worker.terminate();
  locks.releaseProcess(7);
  await until('the mutex to be free', () => mutexFree(locks));
  t.equal(locks.manager.size(), 1, 'only the other process\'s lock is left');
  t.ok(locks.manager.lockWholeFile(join(root, 'held'), { type: 'exclusive', pid: 8, fd: 3, waitForLock: false }), 'its file is free');
  t.notOk(locks.manager.lockWholeFile(join(root, 'mine'), { type: 'shared', pid: 8, fd: 3, waitForLock: false }), 'the other lock still holds');
});

t.test('workers stopped at any moment of an update leave the others\' locks whole and nothing of their own', async (t) => {
  const root = tempDir(t, 'pws-lock-table-');
  const locks = new SharedFileLocks();
  const mine = join(root, 'mine');
  const myRange = join(root, 'my-range');
  t.ok(locks.manager.lockWholeFile(mine, { type: 'shared', pid: 1, fd: 3, waitForLock: false }));
  t.ok(locks.manager.lockFileByteRange(myRange, { type: 'exclusive', pid: 1, fd: 3, start: 0n, end: 10n }));
  for (let round = 0; round < 8; round++) {
    const stats = newStats();
    const pid = 100 + round;
    const worker = start(t, { mode: 'churn', lockTable: locks.buffer, pid, root }, stats);
    const stopAfter = 20 + Math.floor(Math.random() * 2000);
    await until('the worker to churn', () => Atomics.load(stats, Stat.Ops) >= stopAfter);
    await worker.terminate();
    locks.releaseProcess(pid);
    await until('the mutex to be free', () => mutexFree(locks));
  }
  t.equal(locks.manager.size(), 2, 'the two locks of process 1, nothing else');
  t.same(locks.manager.findFirstConflictingByteRangeLock(myRange, { type: 'shared', pid: 9, fd: 3, start: 5n, end: 6n }), { type: 'exclusive', start: 0n, end: 10n, pid: 1 });
  t.notOk(locks.manager.lockWholeFile(mine, { type: 'exclusive', pid: 9, fd: 3, waitForLock: false }));
});
