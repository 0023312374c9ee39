/** What the pool knows of one worker: its lifecycle, its counters, and the job it runs. */
import type { Timer } from './clock.js';
import type { OpcacheSample } from './opcache-sample.js';
import { createNativeCallGate } from './native-call-gate.js';
import { createFlowBuffer, OutputFlowControl } from './output-flow.js';
import type { LeaveReason, PoolWorker } from './pool-types.js';
import type { RunningJob } from './running-job.js';
import { WorkerLifecycle, type WorkerPhase } from './worker-lifecycle.js';

export class WorkerHandle {
  readonly lifecycle: WorkerLifecycle;
  /** Output flow control shared with its thread (see output-flow.ts). */
  readonly flowBuffer = createFlowBuffer();
  readonly flow = new OutputFlowControl(this.flowBuffer);
  /** Closed before its thread is terminated (see native-call-gate.ts). */
  readonly nativeCallGate = createNativeCallGate();
  /** Its thread, once started. */
  worker?: PoolWorker;
  /** Runs handed to it (warm-up and opcache samples count too). */
  requests = 0;
  /** Wasm memory after its last request. */
  memoryBytes = 0;
  /** Wasm memory once booted and warm: growth is measured from here. */
  warmMemoryBytes = 0;
  /** It took visitors instead of a warm-up: warmMemoryBytes is taken after its first request. */
  baselineAfterFirstRequest = false;
  /** It started from a warm worker's memory image (see warm-image.ts): warm from its boot on. */
  fromImage = false;
  /** Its quota of requests is served: once its request ends, it is reset in place from the warm image (see WorkerPool.recycle). */
  resetDue = false;
  /** The image its last reset in place was to. */
  resetImagePath?: string;
  /** Times its thread was reset in place; past the pool's resetsPerThread the thread is replaced too. */
  resets = 0;
  /** Ends a reset that takes too long (see WorkerPool.resetInPlace). */
  resetTimer?: Timer;
  /** Its opcache as last sampled (see opcache-sample.ts). */
  opcache?: OpcacheSample;
  /** The opcache.memory_consumption it booted with, when the pool sized it (see opcache-size.ts). */
  opcacheMb?: number;
  /** It said its opcache is full (once is enough). */
  opcacheFullWarned = false;
  /**
   * Set once it is asked to leave, and why. `afterSuccessor`: it serves on until the worker started
   * in its place is warm (recycling); otherwise it leaves as soon as it is free.
   */
  leaving?: { reason: LeaveReason; afterSuccessor: boolean };
  /** The job it runs (busy, retiring, or a warm-up job while warming). */
  job?: RunningJob;
  /** A self-call worker's countdown to leaving while idle. */
  idleTimer?: Timer;
  /** Settles when it first takes traffic; rejects if it never does. */
  ready: Promise<void> = Promise.resolve();
  /**
   * Settles once it is warm: after its warm-up, or after the first request it took instead (see
   * WorkerPool.visitorsWaitOnlyFor); or once it is gone.
   */
  readonly warm: Promise<void>;
  readonly becameWarm: () => void;

  constructor(
    /** Its process id inside PHP (getmypid) and in logs; never reused. */
    readonly id: number,
    /** Stable small number for metrics labels: the lowest one free when it started (ids grow forever). */
    readonly index: number,
    /** The reload whose settings it boots with (see WorkerPool.reconfigure). */
    public generation: number,
    /** A self-call worker: beyond the pool's size, serves only PHP's calls to this server. */
    readonly selfCallOnly: boolean,
    onPhaseChange?: (from: WorkerPhase, to: WorkerPhase) => void,
  ) {
    this.lifecycle = new WorkerLifecycle(id, onPhaseChange);
    let becameWarm!: () => void;
    this.warm = new Promise((resolve) => { becameWarm = resolve; });
    this.becameWarm = becameWarm;
  }

  get phase(): WorkerPhase {
    return this.lifecycle.phase;
  }

  /** Lower is preferred: a worker staying over one about to leave, the pool's own over a self-call worker. */
  get rank(): number {
    return (this.leaving ? 2 : 0) + (this.selfCallOnly ? 1 : 0);
  }
}
