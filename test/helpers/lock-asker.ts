/**
 * Worker thread for split-lock-manager.test: takes the locks the test names through a
 * SplitLockManager over the shared lock table, as a PHP worker does, and reports each answer.
 * Blocking asks return only once granted; the test releases the holder meanwhile. Each try at the
 * shared table is counted in `tries` (a shared cell the test reads while the ask blocks).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { RequestedRangeLock, WholeFileLockOp } from '@php-wasm/universal';
import { SharedLockTable } from '../../server/pool/lock-table/shared-lock-table.js';
import { SplitLockManager } from '../../server/pool/split-lock-manager.js';

interface Ask {
  kind: 'whole' | 'range';
  path: string;
  wait: boolean;
}

const PID = 2;
const { lockTable, root, tries } = workerData as { lockTable: SharedArrayBuffer; root: string; tries: SharedArrayBuffer };
const triesCell = new Int32Array(tries);

/** The table, with each lock try counted. */
class CountedTable extends SharedLockTable {
  override lockWholeFile(path: string, op: WholeFileLockOp): boolean {
    Atomics.add(triesCell, 0, 1);
    return super.lockWholeFile(path, op);
  }
  override lockFileByteRange(path: string, lock: RequestedRangeLock): boolean {
    Atomics.add(triesCell, 0, 1);
    return super.lockFileByteRange(path, lock);
  }
}

const locks = new SplitLockManager(new CountedTable(lockTable, PID), [root]);

parentPort!.on('message', (ask: Ask) => {
  const granted = ask.kind === 'whole'
    ? locks.lockWholeFile(ask.path, { type: 'exclusive', pid: PID, fd: 20, waitForLock: ask.wait })
    : locks.lockFileByteRange(ask.path, { type: 'exclusive', pid: PID, fd: 20, start: 0n, end: 100n }, ask.wait);
  parentPort!.postMessage({ granted });
});
parentPort!.postMessage('ready');
