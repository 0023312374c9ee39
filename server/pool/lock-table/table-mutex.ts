import { Cell } from './lock-slots.js';

/** Tries before sleeping: a critical section lasts microseconds, a futex sleep costs more. */
const SPINS = 64;
/** Longest sleep between tries (a lost wake-up or a stolen mutex is noticed this late). */
const MAX_SLEEP_MS = 20;

/** The main thread's mark in the mutex; workers write their process id (always positive). */
export const MAIN_THREAD_HOLDER = -1;

/**
 * A mutex in one Int32 cell holding its holder's id (0: free). Worker.terminate can stop a thread
 * anywhere, also while it holds the mutex; then nobody would ever get it again. So the holder is
 * recorded, and whoever may know it is dead (the main thread, once the pool saw the thread stop)
 * takes the mutex over from it. That is safe because the table's writes keep other processes'
 * records whole at every step (see lock-slots.ts), and the stopped process's records are freed
 * right after by the same caller.
 */
export class TableMutex {
  constructor(private readonly cells: Int32Array, private readonly holder: number) {
    if (holder === 0) throw new Error('0 marks a free mutex: a process id must not be 0');
  }

  acquire(): void {
    this.acquireWithin(Infinity, () => false);
  }

  /** False if another live thread kept it for `timeoutMs`; a holder `isStopped` says is dead is taken over. */
  acquireWithin(timeoutMs: number, isStopped: (holder: number) => boolean): boolean {
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
    for (let tries = 0; ; tries++) {
      const current = Atomics.compareExchange(this.cells, Cell.Mutex, 0, this.holder);
      if (current === 0) return true;
      if (isStopped(current) && Atomics.compareExchange(this.cells, Cell.Mutex, current, this.holder) === current) return true;
      if (tries < SPINS) continue;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      Atomics.add(this.cells, Cell.MutexWaiters, 1);
      Atomics.wait(this.cells, Cell.Mutex, current, Math.min(left, MAX_SLEEP_MS));
      Atomics.sub(this.cells, Cell.MutexWaiters, 1);
    }
  }

  /** A waiter stopped in its sleep leaves MutexWaiters too high for good: it only costs spare notify calls. */
  release(): void {
    Atomics.store(this.cells, Cell.Mutex, 0);
    if (Atomics.load(this.cells, Cell.MutexWaiters) > 0) Atomics.notify(this.cells, Cell.Mutex, 1);
  }
}
