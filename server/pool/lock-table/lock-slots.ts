import type { PathKey } from './path-key.js';

/**
 * The records of the shared lock table, in a SharedArrayBuffer: a header of Int32 cells, then a
 * fixed number of slots, the used ones packed at the front (`count`), so a scan touches only those.
 * Only the holder of the table's mutex calls these methods; its Atomics operations order the plain
 * reads and writes here between threads.
 *
 * Written so that a thread stopped between any two writes (Worker.terminate) never makes another
 * process's record disappear: a new record becomes visible only when `count` grows after it is
 * written, and a removal copies the last record over the hole (its pid last) before `count` shrinks.
 * At worst a stopped writer leaves a half-written record of its own (freed with its process) or a
 * duplicate of another process's record (an extra lock that goes with the original).
 */
export const Cell = {
  Mutex: 0,
  MutexWaiters: 1,
  Count: 2,
  /** Grows whenever a lock is released or narrowed: blocked lockers wait on it. */
  Version: 3,
  VersionWaiters: 4,
  Capacity: 5,
} as const;
const HEADER_INTS = 8; // even: keeps the slots' 64-bit offsets aligned

export const Kind = {
  WholeShared: 1,
  WholeExclusive: 2,
  RangeShared: 3,
  RangeExclusive: 4,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];
export const isWhole = (kind: Kind) => kind === Kind.WholeShared || kind === Kind.WholeExclusive;
export const isRange = (kind: Kind) => kind === Kind.RangeShared || kind === Kind.RangeExclusive;

// One slot: kind, key high, key low, pid, fd, (unused), start (int64), end (int64).
const SLOT_INTS = 10;
const KIND = 0;
const KEY_HIGH = 1;
const KEY_LOW = 2;
const PID = 3;
const FD = 4;
const START_INT = 6;
const END_INT = 8;
/** Offsets are stored as signed 64-bit; larger ones (beyond any real file) are clamped. */
const MAX_OFFSET = (1n << 63n) - 1n;

export interface LockRecord {
  kind: Kind;
  key: PathKey;
  pid: number;
  fd: number;
  start: bigint;
  end: bigint;
}

export function lockTableBytes(capacity: number): number {
  return (HEADER_INTS + capacity * SLOT_INTS) * Int32Array.BYTES_PER_ELEMENT;
}

export class LockSlots {
  readonly cells: Int32Array;
  private readonly offsets: BigInt64Array;

  constructor(buffer: SharedArrayBuffer) {
    this.cells = new Int32Array(buffer);
    this.offsets = new BigInt64Array(buffer);
  }

  static format(buffer: SharedArrayBuffer, capacity: number): void {
    new Int32Array(buffer)[Cell.Capacity] = capacity;
  }

  get count(): number {
    return this.cells[Cell.Count];
  }

  private base(slot: number): number {
    return HEADER_INTS + slot * SLOT_INTS;
  }

  kind(slot: number): Kind {
    return this.cells[this.base(slot) + KIND] as Kind;
  }
  pid(slot: number): number {
    return this.cells[this.base(slot) + PID];
  }
  fd(slot: number): number {
    return this.cells[this.base(slot) + FD];
  }
  start(slot: number): bigint {
    return this.offsets[(this.base(slot) + START_INT) / 2];
  }
  end(slot: number): bigint {
    return this.offsets[(this.base(slot) + END_INT) / 2];
  }
  isOf(slot: number, key: PathKey): boolean {
    const base = this.base(slot);
    return this.cells[base + KEY_HIGH] === key.high && this.cells[base + KEY_LOW] === key.low;
  }

  /** Adds a record; false when every slot is taken. */
  append(record: LockRecord): boolean {
    const slot = this.count;
    if (slot >= this.cells[Cell.Capacity]) return false;
    this.write(slot, record);
    this.cells[Cell.Count] = slot + 1; // now visible
    return true;
  }

  /** Rewrites a record of the calling process (same pid: a half-done rewrite stays its own). */
  overwrite(slot: number, record: LockRecord): void {
    this.write(slot, record);
  }

  remove(slot: number): void {
    const last = this.count - 1;
    if (slot !== last) {
      const to = this.base(slot);
      const from = this.base(last);
      for (let i = 0; i < SLOT_INTS; i++) if (i !== PID) this.cells[to + i] = this.cells[from + i];
      this.cells[to + PID] = this.cells[from + PID];
    }
    this.cells[Cell.Count] = last;
  }

  private write(slot: number, record: LockRecord): void {
    const base = this.base(slot);
    this.cells[base + KIND] = record.kind;
    this.cells[base + KEY_HIGH] = record.key.high;
    this.cells[base + KEY_LOW] = record.key.low;
    this.cells[base + FD] = record.fd;
    this.offsets[(base + START_INT) / 2] = record.start > MAX_OFFSET ? MAX_OFFSET : record.start;
    this.offsets[(base + END_INT) / 2] = record.end > MAX_OFFSET ? MAX_OFFSET : record.end;
    this.cells[base + PID] = record.pid;
  }
}
