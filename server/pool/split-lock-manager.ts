import { realpathSync } from 'node:fs';
import { FileLockManagerInMemory, type FileLockManager, type RequestedRangeLock, type WholeFileLockOp } from '@php-wasm/universal';
import type { SharedLockTable } from './lock-table/shared-lock-table.js';

/** Longest single wait between tries: short, so a worker being terminated is not held up by it. */
const MAX_LOCK_WAIT_MS = 16;

/** The shared table as this manager needs it: locks, plus a signal when one is released. */
export type SharedLocks = FileLockManager & Pick<SharedLockTable, 'version' | 'waitForChange'>;

/**
 * A blocking lock (flock without LOCK_NB, fcntl F_SETLKW) on a shared file waits here until the
 * shared table grants it. php.wasm first takes the host's own lock (which blocks in the kernel),
 * then asks the table, which answers at once. The holder's close() releases the host file before
 * its lock in the table, so a worker woken by it can ask in between; refused, php.wasm dropped the
 * host lock and returned EWOULDBLOCK, and PHP's session handler, which ignores flock()'s result,
 * went on unlocked: a lost session update about once in 300 rounds of 12 concurrent requests. So it
 * waits, as the kernel does for a process, woken by the table's next release (also when the table
 * was full). A holder that never lets go is ended by the request timeout, which releases its locks.
 */
function waitUntilGranted(shared: SharedLocks, tryLock: () => boolean): boolean {
  for (;;) {
    const seen = shared.version();
    if (tryLock()) return true;
    shared.waitForChange(seen, MAX_LOCK_WAIT_MS);
  }
}

/**
 * Sends a lock to the shared table only when other workers can see the file, i.e. it lies in a host
 * folder (docroot, mounts, sessions). Files in the instance's own memory (opcache's lock file in
 * /tmp, taken twice on every request) stay in a table local to this worker: no mutex to take.
 */
export class SplitLockManager implements FileLockManager {
  private readonly local = new FileLockManagerInMemory();
  private readonly sharedRoots: string[];
  /** Whether this process may hold a shared lock: php.wasm releases all locks after every request. */
  private mayHoldShared = false;

  constructor(private readonly shared: SharedLocks, hostRoots: string[]) {
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
    return waitUntilGranted(this.shared, () => manager.lockWholeFile(path, { ...op, waitForLock: false }));
  }

  lockFileByteRange(path: string, lock: RequestedRangeLock, waitForLock: boolean): boolean {
    const manager = this.pick(path);
    if (manager === this.local || lock.type === 'unlocked' || !waitForLock) return manager.lockFileByteRange(path, lock, waitForLock);
    return waitUntilGranted(this.shared, () => manager.lockFileByteRange(path, lock, false));
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
