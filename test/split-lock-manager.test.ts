/**
 * Locks on host files shared by the workers: a blocking lock waits in the worker until the shared
 * table grants it. php.wasm takes the host's own lock first and then asks the table; a worker woken
 * by the holder's close() could ask before the holder's release had reached the table, was refused,
 * and PHP went on unlocked (sessions lost updates). Real worker thread, real shared table.
 */
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import t, { type Test } from 'tap';
import { SharedFileLocks } from '../server/pool/locks.js';
import { tempDir } from './helpers/server.js';
import { until } from './helpers/until.js';

const HOLDER = 1;

async function startAsker(t: Test, locks: SharedFileLocks, root: string) {
  const triesCell = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(new URL('./helpers/lock-asker.js', import.meta.url), { workerData: { lockTable: locks.buffer, root, tries: triesCell.buffer } });
  t.teardown(() => worker.terminate());
  const answers: boolean[] = [];
  worker.on('message', (message: unknown) => {
    if (typeof message === 'object' && message && 'granted' in message) answers.push((message as { granted: boolean }).granted);
  });
  await once(worker, 'message'); // ready
  const ask = async (kind: 'whole' | 'range', path: string, wait: boolean): Promise<boolean> => {
    const before = answers.length;
    worker.postMessage({ kind, path, wait });
    await until('the answer', () => answers.length > before);
    return answers[before]!;
  };
  /** The asker's tries at the shared table so far. */
  const tries = () => Atomics.load(triesCell, 0);
  return { worker, answers, ask, tries };
}

for (const kind of ['whole', 'range'] as const) {
  t.test(`${kind === 'whole' ? 'flock' : 'fcntl F_SETLKW'}: a blocking lock waits until the holder lets go; a non-blocking one is refused at once`, async (t) => {
    const root = tempDir(t, 'pws-locks-');
    const file = join(root, 'shared.db');
    writeFileSync(file, '');
    const locks = new SharedFileLocks();
    const hold = kind === 'whole'
      ? locks.manager.lockWholeFile(file, { type: 'exclusive', pid: HOLDER, fd: 10, waitForLock: false })
      : locks.manager.lockFileByteRange(file, { type: 'exclusive', pid: HOLDER, fd: 10, start: 0n, end: 100n });
    t.ok(hold, 'another process holds the file');
    const asker = await startAsker(t, locks, root);
    const tries = asker.tries;

    t.equal(await asker.ask(kind, file, false), false, 'non-blocking: refused');
    const triesBefore = tries();
    asker.worker.postMessage({ kind, path: file, wait: true });
    // The retry after the first refusal comes at the latest when a wait times out (16 ms).
    await until('the blocking ask to try again', () => tries() >= triesBefore + 2 || asker.answers.length > 1);
    t.same(asker.answers, [false], 'blocking: no answer while the lock is held');
    locks.releaseProcess(HOLDER);
    await until('the blocking answer', () => asker.answers.length > 1);
    t.equal(asker.answers[1], true, 'granted once the holder let go');
    const third = kind === 'whole'
      ? locks.manager.lockWholeFile(file, { type: 'exclusive', pid: 3, fd: 30, waitForLock: false })
      : locks.manager.lockFileByteRange(file, { type: 'exclusive', pid: 3, fd: 30, start: 0n, end: 100n });
    t.equal(third, false, 'and the asker holds it now');
  });
}
