import { realpathSync } from 'node:fs';
import { FileLockManagerInMemory, type FileLockManager, type RequestedRangeLock, type WholeFileLockOp } from '@php-wasm/universal';

/** Longest single wait between tries: short, so a worker being terminated is not held up by it. */
const MAX_LOCK_POLL_MS = 16;

/**
 * A blocking lock (flock without LOCK_NB, fcntl F_SETLKW) on a shared file waits here until the
 * shared table grants it. php.wasm first takes the host's own lock (which blocks in the kernel), then
 * asks this table, which answers at once: it lives on the main thread, which must not block. A worker
 * woken by the holder's close() could ask before the holder's release (a message on another port)
 * had reached the table; refused, php.wasm dropped the host lock and returned EWOULDBLOCK, and PHP's
 * session handler, which ignores flock()'s result, went on unlocked: a lost session update about once
 * in 300 rounds of 12 concurrent requests. Waiting is what the kernel does for a process. A holder
 * that never lets go is ended by the request timeout, which releases its locks.
 */
function waitUntilGranted(tryLock: () => boolean): boolean {
  let pause = 1;
  while (!tryLock()) {
    Atomics.wait(pauseCell, 0, 0, pause);
    pause = Math.min(pause * 2, MAX_LOCK_POLL_MS);
  }
  return true;
}
const pauseCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * Sends a lock to the main thread's shared table only when other workers can see the file, i.e. it
 * lies in a host folder (docroot, mounts, sessions). Files in the instance's own memory (opcache's
 * lock file in /tmp, taken twice on every request) stay in a table local to this worker: a
 * synchronous round trip to the main thread per lock was the largest cost of a trivial request.
 */
export class SplitLockManager implements FileLockManager {
  private readonly local = new FileLockManagerInMemory();
  private readonly sharedRoots: string[];
  /** Whether this process may hold a shared lock: php.wasm releases all locks after every request. */
  private mayHoldShared = false;

  constructor(private readonly shared: FileLockManager, hostRoots: string[]) {
    this.sharedRoots = hostRoots.map((root) => {
      const real = realpathSync(root);
      return real.endsWith('/') ? real : real + '/';
    });
  }

  private pick(path: string): FileLockManager {
    if (!this.sharedRoots.some((root) => path.startsWith(root))) return this.local;
    this.mayHoldShared = true;
    return this.shared;
  }

  lockWholeFile(path: string, op: WholeFileLockOp): boolean {
    const manager = this.pick(path);
    if (manager === this.local || op.type === 'unlock' || !op.waitForLock) return manager.lockWholeFile(path, op);
    return waitUntilGranted(() => manager.lockWholeFile(path, { ...op, waitForLock: false }));
  }

  lockFileByteRange(path: string, lock: RequestedRangeLock, waitForLock: boolean): boolean {
    const manager = this.pick(path);
    if (manager === this.local || lock.type === 'unlocked' || !waitForLock) return manager.lockFileByteRange(path, lock, waitForLock);
    return waitUntilGranted(() => manager.lockFileByteRange(path, lock, false));
  }

  findFirstConflictingByteRangeLock(path: string, lock: RequestedRangeLock) {
    return this.pick(path).findFirstConflictingByteRangeLock(path, lock);
  }

  releaseLocksOnFdClose(pid: number, fd: number, path: string): void {
    this.pick(path).releaseLocksOnFdClose(pid, fd, path);
  }

  releaseLocksForProcess(pid: number): void {
    this.local.releaseLocksForProcess(pid);
    // Only this process's own calls can have given it a shared lock; none since the last release
    // means there is nothing to release over there.
    if (!this.mayHoldShared) return;
    this.shared.releaseLocksForProcess(pid);
    this.mayHoldShared = false;
  }
}
