/**
 * Requests waiting for a worker, first in first out, each bounded: it leaves with 503 once the
 * queue timeout passes, or with 499 when its client disconnects (it never takes a worker then).
 */
import type { PhpJob } from '../cgi.js';
import type { Clock, Timer } from './clock.js';
import type { WorkerBody } from './messages.js';
import { PoolError } from './pool-types.js';
import type { Waiter } from './running-job.js';

export interface PendingJob extends Waiter {
  job: PhpJob;
  body: WorkerBody;
  /** When it asked for a worker (the clock's milliseconds). */
  queuedAt: number;
  /** PHP calling this server: it may use a self-call worker. */
  selfCall: boolean;
  /** Its own limit on PHP's running time, instead of the pool's. */
  timeoutMs?: number;
}

interface Waiting {
  pending: PendingJob;
  timer: Timer;
  stopListening(): void;
}

export class RequestQueue {
  private readonly waiting: Waiting[] = [];

  constructor(private readonly clock: Clock) {}

  get length(): number {
    return this.waiting.length;
  }

  /** How many of those waiting are self-calls. */
  get selfCalls(): number {
    return this.waiting.filter((w) => w.pending.selfCall).length;
  }

  /** When the longest-waiting self-call was queued (the clock's milliseconds), if one waits. */
  get oldestSelfCallAt(): number | undefined {
    return this.waiting.find((w) => w.pending.selfCall)?.pending.queuedAt;
  }

  add(pending: PendingJob, timeoutMs: number, timeoutError: () => PoolError, clientGone?: AbortSignal): void {
    const leave = (error: PoolError) => {
      const at = this.waiting.indexOf(entry);
      if (at === -1) return; // already taken
      this.release(this.waiting.splice(at, 1)[0]!);
      pending.reject(error);
    };
    const onGone = () => leave(new PoolError(499, 'client closed the connection while waiting'));
    const entry: Waiting = {
      pending,
      timer: this.clock.setTimeout(() => leave(timeoutError()), timeoutMs),
      stopListening: () => clientGone?.removeEventListener('abort', onGone),
    };
    clientGone?.addEventListener('abort', onGone, { once: true });
    this.waiting.push(entry);
  }

  /** Removes and returns the first waiting request `canRun` accepts (a self-call may pass requests only a pool worker can take). */
  takeFirst(canRun: (pending: PendingJob) => boolean): PendingJob | undefined {
    const at = this.waiting.findIndex((entry) => canRun(entry.pending));
    if (at === -1) return undefined;
    const [entry] = this.waiting.splice(at, 1);
    this.release(entry!);
    return entry!.pending;
  }

  /** Empties the queue, each request getting `error`. */
  rejectAll(error: PoolError): void {
    for (const entry of this.waiting.splice(0)) {
      this.release(entry);
      entry.pending.reject(error);
    }
  }

  private release(entry: Waiting): void {
    this.clock.clearTimeout(entry.timer);
    entry.stopListening();
  }
}
