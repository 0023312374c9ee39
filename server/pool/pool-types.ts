/** What the worker pool is given and what it hands back (see pool.ts). */
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { PhpJob } from '../cgi.js';
import type { Clock } from './clock.js';
import type { FromWorker, ToWorker, WorkerBoot } from './messages.js';
import type { WorkerPhase } from './worker-lifecycle.js';

export interface PoolOptions {
  size: number;
  maxRequests: number;
  queueLimit: number;
  queueTimeoutMs: number;
  requestTimeoutMs: number;
  boot: Omit<WorkerBoot, 'processId' | 'wasmModule' | 'modulePort' | 'lockTable' | 'flowBuffer' | 'nativeCallGate'>;
  /**
   * php.wasm, compiled once. While it is still being made, workers already start (their own start-up
   * and imports take ~0.25 s) and get it as soon as it is ready; a failure to make it fails their boot.
   */
  wasmModule: WebAssembly.Module | Promise<WebAssembly.Module>;
  /** Jobs each new worker runs before it takes traffic (fills its opcache). */
  warmup: PhpJob[];
  log: Logger;
  /** Hears of what the pool does (metrics); never changes it. */
  observer?: PoolObserver;
  /**
   * Wasm memory only grows: a worker whose memory grew this many bytes past its warm size is
   * recycled (successor first), so one big request does not pin gigabytes for 1,500 requests.
   */
  maxWorkerMemoryGrowth?: number;
  /**
   * A client that takes none of a response for this long, while PHP waits for it to make room, is
   * given up on (nginx's send_timeout): the response is cut and PHP sees an aborted connection.
   */
  sendTimeoutMs?: number;
  /** Delivers what a worker's mail() wrote to sendmail (see mail/mail-relay.ts); absent: mail() fails. */
  mail?: (args: string[], message: Buffer, workerId: number) => Promise<boolean>;
  /** Hears of code files (or folders) PHP changed, as guest paths, after the workers were told. */
  codeChanged?: (guestPaths: string[]) => void;
  /**
   * Workers beyond `size` that only PHP's calls to this server may use, started when such a call
   * finds every worker busy (its caller holds one, waiting for it) and gone after a minute idle.
   * 0: a self-call waits in the queue like any request, bounded by the queue timeout.
   */
  selfCallWorkers?: number;
  /** How long a self-call worker stays without a self-call to serve (default a minute). */
  selfCallWorkerIdleMs?: number;
  /**
   * opcache's size when php.ini does not set it: where it starts and how far it grows (see
   * opcache-size.ts; default 32 → 256 MB).
   */
  opcacheGrowth?: import('./opcache-size.js').OpcacheGrowth;
  /**
   * New workers start from a memory image of the first one that warmed up instead of starting PHP
   * up and warming up themselves (see warm-image.ts); default off.
   */
  warmImages?: boolean;
  /**
   * Where the warm image is also kept for the next start, and what names this server's code and
   * php.wasm (see kept-image.ts); absent: each start warms up its first worker itself.
   */
  keptImages?: import('./kept-image.js').KeptImages;
  /**
   * A worker that served maxRequests is recycled in place (its PHP made the warm image again, in
   * milliseconds and on its own thread) this many times before its thread is replaced too, which also
   * sheds what the JavaScript around PHP kept; default 0: always replaced. Needs warmImages.
   */
  resetsPerThread?: number;
  /** Starts one worker thread (tests pass fake workers to check the pool's policies). */
  startWorker?: (boot: WorkerBoot) => PoolWorker;
  /** The pool's time (tests pass a fake clock; see clock.ts). */
  clock?: Clock;
}

/** What a reload may change (see reload-plan.ts). */
export type ReloadableSettings = Pick<PoolOptions, 'size' | 'boot' | 'warmup' | 'maxRequests' | 'queueLimit' | 'queueTimeoutMs' | 'requestTimeoutMs' | 'maxWorkerMemoryGrowth' | 'sendTimeoutMs' | 'selfCallWorkers'>;

/** What the pool uses of a worker thread. */
export interface PoolWorker {
  on(event: 'message', listener: (message: FromWorker) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
  postMessage(message: ToWorker): void;
  terminate(): Promise<number>;
}

/**
 * Why a worker left: its quota was served, or it was ended (timeout, crash), or the pool closed, or
 * (a self-call worker) nothing needed it for a while.
 */
export type WorkerExit = 'recycled' | 'memory' | 'opcache' | 'reload' | 'timeout' | 'crashed' | 'failed-to-start' | 'closed' | 'idle';

/** Why a serving worker is asked to leave (a successor takes its place, or the pool shrinks). */
export type LeaveReason = Extract<WorkerExit, 'recycled' | 'memory' | 'opcache' | 'reload'>;

export interface PoolObserver {
  workerStarted(): void;
  workerExited(reason: WorkerExit): void;
  /** Seconds a request waited for a worker (0 when one was free). */
  queueWait(seconds: number): void;
  /** A worker moved from one phase of its life to the next (see worker-lifecycle.ts). */
  workerPhase?(workerId: number, from: WorkerPhase, to: WorkerPhase): void;
  /** A worker was recycled in place: its PHP became the warm image again (see PoolOptions.resetsPerThread). */
  workerReset?(): void;
  /** A worker gave back this many bytes of its wasm memory (pages that were all zeros). */
  memoryReleased?(bytes: number): void;
}

/** A request the pool could not serve; `status` is what the client gets. */
export class PoolError extends Error {
  /** 499: the client left before a worker was free (nginx's code for it); nobody gets that answer. */
  constructor(public readonly status: 499 | 502 | 503 | 504, message: string, public readonly retryAfterSeconds?: number) {
    super(message);
  }
}

export interface PhpResponse {
  status: number;
  headers: Record<string, string[]>;
  body: Readable;
  /** The whole body, when PHP had finished before its first bytes were sent (small pages). */
  whole?: Buffer;
  workerId: number;
  /** The client is gone: PHP's next output fails as an aborted connection (unless ignore_user_abort). */
  abort(): void;
}
