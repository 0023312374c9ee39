/**
 * The life of one pool worker, as one explicit state machine. Every change of phase goes through
 * moveTo(), which refuses a transition the table does not allow: a policy bug shows up as an error
 * at the place it happens, not as a worker that quietly serves after it was stopped.
 *
 *   booting → warming → idle ⇄ busy → retiring → gone
 *                        idle ⇄ resetting (recycled in place from the warm image)
 *   (any phase → gone: a crash, a timeout, a failed start, the pool closing)
 */

export type WorkerPhase =
  /** Its thread is starting and instantiating php.wasm. */
  | 'booting'
  /** Instantiated; running the warm-up jobs, taking no traffic yet. */
  | 'warming'
  /** Waiting for a request. */
  | 'idle'
  /** Running a request. */
  | 'busy'
  /** Between requests, its PHP being made the warm image again (recycling in place); takes no traffic. */
  | 'resetting'
  /** Running its last request: it takes no more and leaves when that one ends. */
  | 'retiring'
  /** Stopped (or being stopped); never used again. */
  | 'gone';

const NEXT: Record<WorkerPhase, readonly WorkerPhase[]> = {
  booting: ['warming', 'gone'],
  warming: ['idle', 'gone'],
  idle: ['busy', 'resetting', 'gone'],
  busy: ['idle', 'retiring', 'gone'],
  resetting: ['idle', 'gone'],
  retiring: ['gone'],
  gone: [],
};

export class IllegalTransition extends Error {
  constructor(readonly from: WorkerPhase, readonly to: WorkerPhase, workerId: number) {
    super(`php worker ${workerId} cannot go from ${from} to ${to}`);
    this.name = 'IllegalTransition';
  }
}

export class WorkerLifecycle {
  private current: WorkerPhase = 'booting';
  private leftBooting!: () => void;
  /** Settles once the worker is no longer booting: instantiated, or gone trying. */
  readonly booted = new Promise<void>((resolve) => { this.leftBooting = resolve; });

  constructor(private readonly workerId: number, private readonly onChange?: (from: WorkerPhase, to: WorkerPhase) => void) {}

  get phase(): WorkerPhase {
    return this.current;
  }

  /** Took traffic at some point and has not stopped: idle, busy, resetting or retiring. */
  get serving(): boolean {
    return this.current === 'idle' || this.current === 'busy' || this.current === 'resetting' || this.current === 'retiring';
  }

  /** Still starting: booting or warming. */
  get starting(): boolean {
    return this.current === 'booting' || this.current === 'warming';
  }

  /** Running a job (a request, or a warm-up job while warming), or a reset. */
  get running(): boolean {
    return this.current === 'busy' || this.current === 'resetting' || this.current === 'retiring';
  }

  is(...phases: WorkerPhase[]): boolean {
    return phases.includes(this.current);
  }

  moveTo(next: WorkerPhase): void {
    const from = this.current;
    if (!NEXT[from].includes(next)) throw new IllegalTransition(from, next, this.workerId);
    this.current = next;
    if (from === 'booting') this.leftBooting();
    this.onChange?.(from, next);
  }
}

/** Whether `from → to` is a transition the lifecycle allows (for tests and documentation). */
export function allowedTransition(from: WorkerPhase, to: WorkerPhase): boolean {
  return NEXT[from].includes(to);
}

export const WORKER_PHASES = Object.keys(NEXT) as WorkerPhase[];
