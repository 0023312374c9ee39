/**
 * Worker thread for shared-lock-table-threads.test, one process of the shared lock table:
 *  - 'hammer': `rounds` times takes a blocking write (or, every third round, read) lock on one range
 *    and one flock, and counts in `stats` who is inside: a writer never meets anyone.
 *  - 'churn': locks and unlocks ranges and flocks without end, counting operations, until stopped.
 *  - 'hold-mutex': takes a lock, then the table's mutex itself, and spins until stopped.
 */
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { SharedLockTable } from '../../server/pool/lock-table/shared-lock-table.js';
import { TableMutex } from '../../server/pool/lock-table/table-mutex.js';
import { SplitLockManager } from '../../server/pool/split-lock-manager.js';

export const Stat = { RangeWriters: 0, RangeReaders: 1, FlockWriters: 2, FlockReaders: 3, Violations: 4, Grants: 5, Ops: 6 } as const;
export const STAT_CELLS = 7;

export interface HammerData {
  mode: 'hammer' | 'churn' | 'hold-mutex';
  lockTable: SharedArrayBuffer;
  stats: SharedArrayBuffer;
  pid: number;
  root: string;
  rounds?: number;
}

const data = workerData as HammerData | undefined;
if (data && parentPort) {
  const stats = new Int32Array(data.stats);
  const table = new SharedLockTable(data.lockTable, data.pid);
  const locks = new SplitLockManager(table, [data.root]);
  const pid = data.pid;
  const fd = 3;

  /** Inside a lock: a writer must find nobody, a reader no writer. */
  const enter = (writers: number, readers: number, write: boolean) => {
    if (write) {
      if (Atomics.add(stats, writers, 1) !== 0 || Atomics.load(stats, readers) !== 0) Atomics.add(stats, Stat.Violations, 1);
    } else {
      Atomics.add(stats, readers, 1);
      if (Atomics.load(stats, writers) !== 0) Atomics.add(stats, Stat.Violations, 1);
    }
    for (let spin = 0; spin < 200; spin++) Atomics.load(stats, Stat.Ops); // stay inside a little
    Atomics.sub(stats, write ? writers : readers, 1);
    Atomics.add(stats, Stat.Grants, 1);
  };

  if (data.mode === 'hammer') {
    const db = join(data.root, 'db');
    const session = join(data.root, 'session');
    for (let round = 0; round < data.rounds!; round++) {
      const write = round % 3 !== 0;
      locks.lockFileByteRange(db, { type: write ? 'exclusive' : 'shared', pid, fd, start: 100n, end: 200n }, true);
      enter(Stat.RangeWriters, Stat.RangeReaders, write);
      locks.lockFileByteRange(db, { type: 'unlocked', pid, fd, start: 0n, end: 0n }, false);
      locks.lockWholeFile(session, { type: write ? 'exclusive' : 'shared', pid, fd, waitForLock: true });
      enter(Stat.FlockWriters, Stat.FlockReaders, write);
      locks.releaseLocksOnFdClose(pid, fd, session);
    }
    locks.releaseLocksForProcess(pid);
    parentPort.postMessage('done');
  } else if (data.mode === 'churn') {
    for (let op = 0; ; op++) {
      const file = join(data.root, `churn-${op % 4}`);
      const start = BigInt(op % 50);
      table.lockFileByteRange(file, { type: op % 2 ? 'exclusive' : 'shared', pid, fd, start, end: start + 20n });
      table.lockWholeFile(file, { type: 'shared', pid, fd: fd + (op % 3), waitForLock: false });
      table.lockFileByteRange(file, { type: 'unlocked', pid, fd, start: start + 5n, end: start + 10n });
      if (op % 7 === 0) table.releaseLocksOnFdClose(pid, fd, file);
      if (op % 31 === 0) table.releaseLocksForProcess(pid);
      Atomics.add(stats, Stat.Ops, 1);
    }
  } else {
    table.lockWholeFile(join(data.root, 'held'), { type: 'exclusive', pid, fd, waitForLock: false });
    new TableMutex(new Int32Array(data.lockTable), pid).acquire();
    parentPort.postMessage('holding');
    for (;;) Atomics.add(stats, Stat.Ops, 1);
  }
}
