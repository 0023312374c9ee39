/**
 * One job running on a worker: its time limit, and its response on the way to the client at the
 * client's pace (credit for the worker as the stream is read; see output-flow.ts).
 */
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Clock, Timer } from './clock.js';
import type { FromWorker } from './messages.js';
import type { OutputFlowControl } from './output-flow.js';
import { PoolError, type PhpResponse } from './pool-types.js';

/** Response bytes the main thread holds for a slow client before PHP has to wait (plus the worker's window). */
const OUTPUT_HIGH_WATER = 256 * 1024;

export interface Waiter {
  resolve(response: PhpResponse): void;
  reject(error: Error): void;
}

export interface RunningJobContext {
  workerId: number;
  flow: OutputFlowControl;
  clock: Clock;
  log: Logger;
  sendTimeoutMs?: number;
  /** PHP ran past the limit (time it spent blocked on a slow client does not count). */
  timedOut(job: RunningJob): void;
}

export class RunningJob {
  private stream?: Readable;
  private timer?: Timer;
  /** Bytes of the response handed to the stream. */
  private pushed = 0;
  /** The send-timeout countdown while the stream is full. */
  private stalled?: Timer;
  private detached = false;
  /** When it was handed to its worker (the clock's milliseconds). */
  readonly startedAt: number;

  constructor(
    readonly id: number,
    private readonly waiter: Waiter,
    /** A warm-up job: the worker is not serving yet. */
    readonly internal: boolean,
    /** This job's limit on PHP's running time (the pool's requestTimeoutMs unless the caller set one). */
    readonly timeoutMs: number,
    private readonly context: RunningJobContext,
  ) {
    this.startedAt = context.clock.now();
    context.flow.reset();
    this.armTimeout(timeoutMs);
  }

  /** PHP's head, with the first bytes and, for a page already complete, nothing more to come. */
  head(message: Extract<FromWorker, { type: 'head' }>): void {
    const { flow, workerId } = this.context;
    const stream = new Readable({ highWaterMark: OUTPUT_HIGH_WATER, read: () => this.passedOn() });
    this.stream = stream;
    // Destroyed before PHP finished (the client left, or stopped reading): PHP sees an aborted connection.
    stream.once('close', () => { if (!this.detached) flow.abort(); });
    if (message.data) this.push(message.data);
    this.waiter.resolve({
      status: message.status,
      headers: message.headers,
      body: stream,
      whole: message.end ? (message.data ? toBuffer(message.data) : Buffer.alloc(0)) : undefined,
      workerId,
      abort: () => { if (!this.detached) flow.abort(); },
    });
  }

  push(data: Uint8Array): void {
    this.pushed += data.byteLength;
    this.stream!.push(toBuffer(data));
    this.passedOn();
  }

  /** PHP finished: the response ends here. */
  complete(): void {
    this.detach();
    this.stream?.push(null);
  }

  /** The pool let go of it (worker stopped): no more timers, no more credit for the worker. */
  detach(): void {
    this.detached = true;
    this.context.clock.clearTimeout(this.timer);
    this.context.clock.clearTimeout(this.stalled);
  }

  /** Ends it with `error`: a response already under way is cut, otherwise the caller gets the error. */
  fail(error: PoolError): void {
    this.detach();
    if (this.stream) this.stream.destroy(error);
    else this.waiter.reject(error);
  }

  private armTimeout(ms: number): void {
    this.timer = this.context.clock.setTimeout(() => this.checkTimeout(), ms);
  }

  private checkTimeout(): void {
    if (this.detached) return;
    const { clock, flow } = this.context;
    const now = clock.now();
    const left = this.startedAt + this.timeoutMs + flow.blockedMs(now) - now;
    if (left > 0) return this.armTimeout(left);
    this.context.timedOut(this);
  }

  /**
   * Tells the worker how much of the response left the stream for the client (credit for more).
   * While the stream stays full, the client is not reading: past the send timeout it is given up on.
   */
  private passedOn(): void {
    const stream = this.stream;
    if (!stream || this.detached) return;
    const { clock, flow, sendTimeoutMs, log, workerId } = this.context;
    flow.consumed(this.pushed - stream.readableLength);
    const full = stream.readableLength >= stream.readableHighWaterMark;
    if (!full) {
      clock.clearTimeout(this.stalled);
      this.stalled = undefined;
    } else if (!this.stalled && sendTimeoutMs) {
      this.stalled = clock.setTimeout(() => {
        if (this.detached) return;
        log.warn({ worker: workerId, sendTimeoutMs }, 'client took no data within the send timeout; response cut');
        flow.abort();
        stream.destroy(new PoolError(504, 'client stopped reading'));
      }, sendTimeoutMs);
    }
  }
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
