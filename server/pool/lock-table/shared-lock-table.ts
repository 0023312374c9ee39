import type { FileLockManager, RequestedRangeLock, WholeFileLockOp } from '@php-wasm/universal';
import { Cell, Kind, LockSlots, isRange, isWhole, lockTableBytes, type LockRecord } from './lock-slots.js';
import { MAIN_THREAD_HOLDER, TableMutex } from './table-mutex.js';
import { OwnPathGuard } from './own-path-guard.js';
import { pathKey, type PathKey } from './path-key.js';

/**
 * Where a lock "to the end of the file" ends: @php-wasm/universal's MAX_ADDRESSABLE_FILE_OFFSET
 * (test/shared-lock-table.test.ts checks they agree). Not imported from there: the main thread loads
 * this module at start, and that package takes ~15 ms to load, which the start does without.
 */
export const LOCK_TO_END_OF_FILE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Room for this many locks (a whole-file lock or a byte range each), all workers together. SQLite
 * holds up to three ranges per open database, a session one whole-file lock: a few dozen in use.
 * When full, a lock is refused (EWOULDBLOCK; SQLite reports "database is locked"), never granted
 * unrecorded; a blocking one (see split-lock-manager.ts) waits for a free slot.
 */
export const DEFAULT_LOCK_CAPACITY = 1024;

type Conflict = ReturnType<FileLockManager['findFirstConflictingByteRangeLock']>;

export function createLockTableBuffer(capacity = DEFAULT_LOCK_CAPACITY): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(lockTableBytes(capacity));
  LockSlots.format(buffer, capacity);
  return buffer;
}

/**
 * The file locks of every worker in one SharedArrayBuffer, read and written by each thread
 * directly under a mutex: no round trip to a busy main thread. Same answers as
 * FileLockManagerInMemory of @php-wasm/universal (test/shared-lock-table.test.ts runs both):
 * whole-file locks (flock) are owned by pid and fd, byte ranges (fcntl) by pid; a process's
 * overlapping ranges merge into the newest; unlocking part of a range splits it; a whole-file
 * exclusive lock conflicts with any range lock, a shared one with exclusive ranges.
 */
export class SharedLockTable implements FileLockManager {
  private readonly slots: LockSlots;
  private readonly mutex: TableMutex;
  private readonly guard = new OwnPathGuard();
  private changed = false;

  /** `holder`: this thread's process id (a worker), or MAIN_THREAD_HOLDER. */
  constructor(buffer: SharedArrayBuffer, holder: number = MAIN_THREAD_HOLDER) {
    this.slots = new LockSlots(buffer);
    this.mutex = new TableMutex(this.slots.cells, holder);
  }

  lockWholeFile(path: string, op: WholeFileLockOp): boolean {
    const key = pathKey(path);
    if (this.guard.collides(op.pid, key, path)) return op.type === 'unlock';
    return this.locked(() => {
      if (op.type === 'unlock') {
        this.removeWhere((slot) => isWhole(this.slots.kind(slot)) && this.slots.isOf(slot, key) && this.ownedBy(slot, op.pid, op.fd));
        this.forgetIfNoneLeft(op.pid, key);
        return true;
      }
      if (this.wholeFileConflict(key, op.pid, op.fd, op.type === 'exclusive')) return false;
      return this.noteHeld(op.pid, key, path, this.grantWholeFile(key, op.pid, op.fd, op.type === 'exclusive'));
    });
  }

  lockFileByteRange(path: string, requested: RequestedRangeLock): boolean {
    const key = pathKey(path);
    if (this.guard.collides(requested.pid, key, path)) return requested.type === 'unlocked';
    const lock = toEndOfFile(requested);
    return this.locked(() => {
      if (lock.type === 'unlocked') {
        this.unlockRange(key, lock);
        this.forgetIfNoneLeft(lock.pid, key);
        return true;
      }
      if (this.rangeConflict(key, lock)) return false;
      return this.noteHeld(lock.pid, key, path, this.grantRange(key, lock));
    });
  }

  findFirstConflictingByteRangeLock(path: string, desired: RequestedRangeLock): Conflict {
    const key = pathKey(path);
    if (this.guard.collides(desired.pid, key, path)) return { type: 'exclusive', start: 0n, end: 0n, pid: -1 };
    return this.locked(() => this.rangeConflict(key, toEndOfFile(desired)));
  }

  releaseLocksOnFdClose(pid: number, fd: number, path: string): void {
    const key = pathKey(path);
    if (this.guard.collides(pid, key, path)) return;
    this.locked(() => {
      // fcntl locks belong to the process: closing any descriptor of the file drops them all.
      this.removeWhere((slot) => this.slots.isOf(slot, key) && this.slots.pid(slot) === pid && (isRange(this.slots.kind(slot)) || this.slots.fd(slot) === fd));
      this.forgetIfNoneLeft(pid, key);
    });
  }

  releaseLocksForProcess(pid: number): void {
    this.locked(() => this.removeWhere((slot) => this.slots.pid(slot) === pid));
    this.guard.releasedAll(pid);
  }

  /**
   * For the main thread, once a worker's thread has stopped: frees its locks, taking the mutex over
   * if a stopped thread held it. False if a live thread kept the mutex for `timeoutMs` (try later).
   */
  releaseStoppedProcess(pid: number, isStopped: (holder: number) => boolean, timeoutMs: number): boolean {
    if (!this.mutex.acquireWithin(timeoutMs, isStopped)) return false;
    try {
      this.removeWhere((slot) => this.slots.pid(slot) === pid);
    } finally {
      this.unlock();
    }
    return true;
  }

  /** Changes each time a lock is released or narrowed: a blocked locker retries when it moves. */
  version(): number {
    return Atomics.load(this.slots.cells, Cell.Version);
  }

  /** Sleeps until the version moves past `seen`, at most `timeoutMs`. */
  waitForChange(seen: number, timeoutMs: number): void {
    const cells = this.slots.cells;
    Atomics.add(cells, Cell.VersionWaiters, 1);
    Atomics.wait(cells, Cell.Version, seen, timeoutMs);
    Atomics.sub(cells, Cell.VersionWaiters, 1);
  }

  /** How many locks are recorded (all processes). */
  size(): number {
    return this.locked(() => this.slots.count);
  }

  // ── Under the mutex ─────────────────────────────────────────────────────────────────────────

  private locked<T>(section: () => T): T {
    this.mutex.acquire();
    try {
      return section();
    } finally {
      this.unlock();
    }
  }

  private unlock(): void {
    const changed = this.changed;
    this.changed = false;
    this.mutex.release();
    if (!changed) return;
    const cells = this.slots.cells;
    Atomics.add(cells, Cell.Version, 1);
    if (Atomics.load(cells, Cell.VersionWaiters) > 0) Atomics.notify(cells, Cell.Version);
  }

  private ownedBy(slot: number, pid: number, fd: number): boolean {
    return this.slots.pid(slot) === pid && this.slots.fd(slot) === fd;
  }

  private wholeFileConflict(key: PathKey, pid: number, fd: number, exclusive: boolean): boolean {
    const slots = this.slots;
    for (let slot = 0; slot < slots.count; slot++) {
      if (!slots.isOf(slot, key)) continue;
      const kind = slots.kind(slot);
      const other = slots.pid(slot) !== pid;
      if (exclusive) {
        if (kind === Kind.WholeExclusive && (other || slots.fd(slot) !== fd)) return true;
        if (kind === Kind.WholeShared && other) return true;
        if (isRange(kind)) return true; // even the process's own ranges, as FileLockManagerInMemory
      } else {
        if (kind === Kind.WholeExclusive && other) return true;
        if (kind === Kind.RangeExclusive) return true;
      }
    }
    return false;
  }

  /** After the conflict check: any whole-file lock left on the file is the requester's own. */
  private grantWholeFile(key: PathKey, pid: number, fd: number, exclusive: boolean): boolean {
    const record: LockRecord = { kind: exclusive ? Kind.WholeExclusive : Kind.WholeShared, key, pid, fd, start: 0n, end: 0n };
    const slots = this.slots;
    let reuse = -1;
    for (let slot = slots.count - 1; slot >= 0; slot--) {
      if (!slots.isOf(slot, key)) continue;
      const kind = slots.kind(slot);
      // Exclusive replaces every whole-file lock on the file; shared replaces an exclusive one and
      // is already there if this fd holds it shared.
      if (kind === Kind.WholeExclusive || (exclusive && kind === Kind.WholeShared)) {
        if (reuse >= 0) this.removeAt(reuse);
        reuse = slot;
      } else if (!exclusive && kind === Kind.WholeShared && this.ownedBy(slot, pid, fd)) {
        return true;
      }
    }
    if (reuse < 0) return slots.append(record);
    this.overwriteAt(reuse, record);
    return true;
  }

  /** The first lock that refuses `lock`: a range first, then the whole-file lock (reported as pid -1). */
  private rangeConflict(key: PathKey, lock: RequestedRangeLock): Conflict {
    const slots = this.slots;
    let whole: Kind | undefined;
    for (let slot = 0; slot < slots.count; slot++) {
      if (!slots.isOf(slot, key)) continue;
      const kind = slots.kind(slot);
      if (isWhole(kind)) {
        whole = kind;
        continue;
      }
      if (slots.pid(slot) === lock.pid || !this.overlaps(slot, lock)) continue;
      if (lock.type === 'exclusive' || kind === Kind.RangeExclusive) {
        return { type: kind === Kind.RangeExclusive ? 'exclusive' : 'shared', start: slots.start(slot), end: slots.end(slot), pid: slots.pid(slot) };
      }
    }
    if (whole === Kind.WholeExclusive) return { type: 'exclusive', start: 0n, end: 0n, pid: -1 };
    if (whole === Kind.WholeShared && lock.type === 'exclusive') return { type: 'shared', start: 0n, end: 0n, pid: -1 };
    return undefined;
  }

  /** The process's overlapping ranges (any fd, any type) merge with the new one, which takes its type and fd. */
  private grantRange(key: PathKey, lock: RequestedRangeLock): boolean {
    const slots = this.slots;
    let start = lock.start;
    let end = lock.end;
    const merged: number[] = [];
    for (let slot = 0; slot < slots.count; slot++) {
      if (!this.isOwnRange(slot, key, lock.pid) || !this.overlaps(slot, lock)) continue;
      merged.push(slot);
      if (slots.start(slot) < start) start = slots.start(slot);
      if (slots.end(slot) > end) end = slots.end(slot);
    }
    const record: LockRecord = { kind: lock.type === 'exclusive' ? Kind.RangeExclusive : Kind.RangeShared, key, pid: lock.pid, fd: lock.fd, start, end };
    if (merged.length === 0) return slots.append(record);
    for (let i = merged.length - 1; i > 0; i--) this.removeAt(merged[i]); // highest first: lower slots stay put
    this.overwriteAt(merged[0], record);
    return true;
  }

  /** POSIX unlock: the process's ranges lose the unlocked part, a range around it splits in two. */
  private unlockRange(key: PathKey, lock: RequestedRangeLock): void {
    const slots = this.slots;
    // Downwards: a removal moves the last record into the hole, one already looked at.
    for (let slot = slots.count - 1; slot >= 0; slot--) {
      if (!this.isOwnRange(slot, key, lock.pid) || !this.overlaps(slot, lock)) continue;
      const held: LockRecord = { kind: slots.kind(slot), key, pid: lock.pid, fd: slots.fd(slot), start: slots.start(slot), end: slots.end(slot) };
      const left = held.start < lock.start ? { ...held, end: lock.start } : undefined;
      const right = held.end > lock.end ? { ...held, start: lock.end } : undefined;
      if (left && right) {
        // A split needs a second slot. With none free the range stays locked whole: a lock held
        // too long (until fd close or the request's end) is only a wait; a lost one is corruption.
        if (!slots.append(right)) continue;
        this.overwriteAt(slot, left);
      } else if (left ?? right) {
        this.overwriteAt(slot, (left ?? right)!);
      } else {
        this.removeAt(slot);
      }
    }
  }

  private isOwnRange(slot: number, key: PathKey, pid: number): boolean {
    return isRange(this.slots.kind(slot)) && this.slots.pid(slot) === pid && this.slots.isOf(slot, key);
  }

  private overlaps(slot: number, range: { start: bigint; end: bigint }): boolean {
    return this.slots.start(slot) < range.end && range.start < this.slots.end(slot);
  }

  private removeWhere(matches: (slot: number) => boolean): void {
    for (let slot = this.slots.count - 1; slot >= 0; slot--) if (matches(slot)) this.removeAt(slot);
  }

  private removeAt(slot: number): void {
    this.slots.remove(slot);
    this.changed = true;
  }

  private overwriteAt(slot: number, record: LockRecord): void {
    this.slots.overwrite(slot, record);
    this.changed = true;
  }

  private noteHeld(pid: number, key: PathKey, path: string, granted: boolean): boolean {
    if (granted) this.guard.holding(pid, key, path);
    return granted;
  }

  private forgetIfNoneLeft(pid: number, key: PathKey): void {
    for (let slot = 0; slot < this.slots.count; slot++) if (this.slots.pid(slot) === pid && this.slots.isOf(slot, key)) return;
    this.guard.released(pid, key);
  }
}

/** A zero-length range means "to the end of the file", as in fcntl. */
function toEndOfFile(lock: RequestedRangeLock): RequestedRangeLock {
  return lock.start === lock.end ? { ...lock, end: LOCK_TO_END_OF_FILE } : lock;
}
