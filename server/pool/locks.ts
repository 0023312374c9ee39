import { createLockTableBuffer, DEFAULT_LOCK_CAPACITY, SharedLockTable } from './lock-table/shared-lock-table.js';

/** How long the main thread waits for a live thread to leave the table before trying again later. */
const RELEASE_WAIT_MS = 200;
const RELEASE_RETRY_MS = 10;

/**
 * One file lock table for every worker of this process. Emscripten's default locks are per OS
 * process, so without this two workers writing one SQLite file corrupt it. The table lives in
 * shared memory (lock-table/): each worker locks and unlocks in it directly, without asking this
 * thread, which is busy serving HTTP.
 */
export class SharedFileLocks {
  /** Handed to each worker in its boot data. */
  readonly buffer: SharedArrayBuffer;
  /** The table as seen from this thread. */
  readonly manager: SharedLockTable;
  /** Processes whose thread has stopped: if one still holds the table's mutex, it is taken over. */
  private readonly stopped = new Set<number>();

  constructor(capacity = DEFAULT_LOCK_CAPACITY) {
    this.buffer = createLockTableBuffer(capacity);
    this.manager = new SharedLockTable(this.buffer);
  }

  /**
   * A stopped worker can no longer unlock: free what it held, or other writers wait forever. Call it
   * only once its thread has really stopped (pool.kill waits for terminate()).
   */
  releaseProcess(processId: number): void {
    this.stopped.add(processId);
    this.releaseWhenPossible(processId);
  }

  /**
   * Does not block this thread for long: a second worker stopped while holding the mutex, and not
   * yet reported, would otherwise block it for good. Its own report (releaseProcess) unblocks both.
   */
  private releaseWhenPossible(processId: number): void {
    if (this.manager.releaseStoppedProcess(processId, (holder) => this.stopped.has(holder), RELEASE_WAIT_MS)) {
      // The mutex has been free since it stopped: it can never hold it again.
      this.stopped.delete(processId);
      return;
    }
    setTimeout(() => this.releaseWhenPossible(processId), RELEASE_RETRY_MS);
  }
}
