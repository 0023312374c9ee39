/**
 * Worker thread for split-lock-manager.test: takes the locks the test names through a
 * SplitLockManager over the main thread's shared table, as a PHP worker does, and reports each
 * answer. Blocking asks return only once granted; the test releases the holder meanwhile.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { consumeAPISync, type FileLockManager } from '@php-wasm/universal';
import { SplitLockManager } from '../../server/pool/split-lock-manager.js';

interface Ask {
  kind: 'whole' | 'range';
  path: string;
  wait: boolean;
}

const { lockPort, root } = workerData as { lockPort: MessagePort; root: string };
const shared = await consumeAPISync<FileLockManager>(lockPort);
const locks = new SplitLockManager(shared, [root]);
const PID = 2;

parentPort!.on('message', (ask: Ask) => {
  const granted = ask.kind === 'whole'
    ? locks.lockWholeFile(ask.path, { type: 'exclusive', pid: PID, fd: 20, waitForLock: ask.wait })
    : locks.lockFileByteRange(ask.path, { type: 'exclusive', pid: PID, fd: 20, start: 0n, end: 100n }, ask.wait);
  parentPort!.postMessage({ granted });
});
parentPort!.postMessage('ready');
