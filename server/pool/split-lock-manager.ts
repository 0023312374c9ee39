import { realpathSync } from 'node:fs';
import { FileLockManagerInMemory, type FileLockManager, type RequestedRangeLock, type WholeFileLockOp } from '@php-wasm/universal';

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
    return this.pick(path).lockWholeFile(path, op);
  }

  lockFileByteRange(path: string, lock: RequestedRangeLock, waitForLock: boolean): boolean {
    return this.pick(path).lockFileByteRange(path, lock, waitForLock);
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
