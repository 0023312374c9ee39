import { Readable } from 'node:stream';
import { isDeepStrictEqual } from 'node:util';
import { Worker, type MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { PhpJob } from '../cgi.js';
import type { FromWorker, RunEnd, ToWorker, WorkerBody, WorkerBoot } from './messages.js';
import { SharedFileLocks } from './locks.js';
import { createFlowBuffer, OutputFlowControl } from './output-flow.js';
import type { OpcacheSample } from './opcache-sample.js';
import type { SelfRoute } from '../sandbox/self-route.js';

export interface PoolOptions {
  size: number;
  maxRequests: number;
  queueLimit: number;
  queueTimeoutMs: number;
  requestTimeoutMs: number;
  boot: Omit<WorkerBoot, 'processId' | 'wasmModule' | 'lockPort' | 'flowBuffer'>;
  wasmModule: WebAssembly.Module;
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
  /**
   * Workers beyond `size` that only PHP's calls to this server may use, started when such a call
   * finds every worker busy (its caller holds one, waiting for it) and gone after a minute idle.
   * 0: a self-call waits in the queue like any request, bounded by the queue timeout.
   */
  selfCallWorkers?: number;
  /** How long a self-call worker stays without a self-call to serve (default a minute). */
  selfCallWorkerIdleMs?: number;
  /** Starts one worker thread (tests pass fake workers to check the pool's policies). */
  startWorker?: (boot: WorkerBoot, transferList: MessagePort[]) => PoolWorker;
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

const startThread = (boot: WorkerBoot, transferList: MessagePort[]): PoolWorker => new Worker(WORKER_URL, { workerData: boot, transferList });

/**
 * Why a worker left: its quota was served, or it was ended (timeout, crash), or the pool closed, or
 * (a self-call worker) nothing needed it for a while.
 */
export type WorkerExit = 'recycled' | 'memory' | 'reload' | 'timeout' | 'crashed' | 'failed-to-start' | 'closed' | 'idle';

export interface PoolObserver {
  workerStarted(): void;
  workerExited(reason: WorkerExit): void;
  /** Seconds a request waited for a worker (0 when one was free). */
  queueWait(seconds: number): void;
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

type Waiter = { resolve(response: PhpResponse): void; reject(error: Error): void };
type Pending = Waiter & { job: PhpJob; body: WorkerBody; timer?: NodeJS.Timeout; queuedAt: number; detach?: () => void; selfCall?: boolean; timeoutMs?: number };
type Active = Waiter & {
  id: number;
  stream?: Readable;
  timer: NodeJS.Timeout;
  internal: boolean;
  startedAt: number;
  /** This request's limit on PHP's running time (the pool's requestTimeoutMs unless the caller set one). */
  timeoutMs: number;
  /** Bytes of the response handed to the stream, and the send-timeout timer while it is full. */
  pushed: number;
  stalled?: NodeJS.Timeout;
};

interface Slot {
  id: number;
  /** Stable small number for metrics labels: the lowest one free when it started (ids grow forever). */
  index: number;
  /** Wasm memory after its last request. */
  memoryBytes: number;
  /** Its opcache as last sampled (see opcache-sample.ts). */
  opcache?: OpcacheSample;
  /** Wasm memory once booted and warm: growth is measured from here. */
  warmMemoryBytes: number;
  /** Why it is being recycled, once it is. */
  retireReason: 'recycled' | 'memory' | 'reload';
  worker: PoolWorker;
  flow: OutputFlowControl;
  state: 'booting' | 'idle' | 'busy' | 'gone';
  requests: number;
  active?: Active;
  /** Set once this worker has served its quota; it works on until `replacement` is ready. */
  retiring: boolean;
  successorReady: boolean;
  /** Booted and warmed: from here on, replacing it when it dies is replace()'s job. */
  started: boolean;
  /** The reload whose settings it booted with (see reconfigure). */
  generation: number;
  /** A self-call worker: beyond `size`, serves only PHP's calls to this server (see selfCallWorkers). */
  reserve: boolean;
  /** A self-call worker's countdown to leaving while idle. */
  idleTimer?: NodeJS.Timeout;
  /** Instantiated (php.wasm loaded, sandbox set up), not yet warm. */
  booted: Promise<void>;
  ready: Promise<void>;
}

const WORKER_URL = new URL('./worker.js', import.meta.url);
/** Requests a retiring worker may still take while its replacement boots. */
const RETIRE_GRACE = 200;
/** Response bytes the main thread holds for a slow client before PHP has to wait (plus the worker's window). */
const OUTPUT_HIGH_WATER = 256 * 1024;
/** How long an answer for a stopped worker's request waits for the worker to end (see kill). */
const TERMINATE_WAIT_MS = 250;
/** php.wasm leaks two descriptors a request and aborts at request 2046: no worker ever gets near it. */
const HARD_REQUEST_LIMIT = 1950;
/** How long a self-call worker stays without a self-call to serve. */
const SELF_CALL_WORKER_IDLE_MS = 60_000;

let nextProcessId = 100;
let nextJobId = 1;

/**
 * Pre-instantiated php.wasm workers with a bounded FIFO queue. Owns every policy about them:
 * queue limits, request timeouts (terminate + replace), crash replacement, and recycling off the
 * request path (the replacement boots and warms before the old worker leaves).
 */
export class WorkerPool {
  private readonly slots = new Set<Slot>();
  private readonly queue: Pending[] = [];
  private readonly locks = new SharedFileLocks();
  private closing = false;
  private warmTurn: Promise<void> = Promise.resolve();
  /** Counts reloads: each worker remembers the one whose settings it booted with. */
  private settingsGeneration = 0;
  private idleWaiters: Array<() => void> = [];
  private selfRoute?: SelfRoute;

  private readonly options: PoolOptions;

  constructor(options: PoolOptions) {
    this.options = { ...options };
  }

  /**
   * Resolves once every worker is instantiated and the first one is warm: the rest warm one after
   * another in the background (see spawn) and take traffic as each finishes.
   */
  async start(): Promise<void> {
    const slots = Array.from({ length: this.options.size }, () => this.spawn());
    await Promise.all(slots.map((slot) => slot.booted));
    await Promise.any(slots.map((slot) => slot.ready)).catch(() => Promise.all(slots.map((slot) => slot.ready)));
    // Serving with at least one worker: one that failed to start is replaced like any other.
    for (const slot of slots) slot.ready.catch(() => { if (!this.closing) void this.spawnWithBackoff(); });
  }

  /** `selfCallWorkers`: how many of `workers` are self-call workers (see PoolOptions). */
  get stats(): { workers: number; busy: number; idle: number; starting: number; queued: number; closing: boolean; selfCallWorkers: number } {
    const live = [...this.slots].filter((s) => s.state !== 'gone');
    const count = (state: Slot['state']) => live.filter((s) => s.state === state).length;
    return { workers: live.length, busy: count('busy'), idle: count('idle'), starting: count('booting'), queued: this.queue.length, closing: this.closing, selfCallWorkers: live.filter((s) => s.reserve).length };
  }

  /** Where PHP's connections to this server go; known once it listens, after the workers booted. */
  setSelfRoute(route: SelfRoute): void {
    this.selfRoute = route;
    for (const slot of this.slots) if (slot.worker && slot.state !== 'gone') slot.worker.postMessage({ type: 'self-route', route });
  }

  /** Each live worker as metrics see it. */
  workers(): Array<{ slot: number; state: string; requests: number; memoryBytes: number; opcache?: OpcacheSample }> {
    return [...this.slots].map((s) => ({ slot: s.index, state: s.state, requests: s.requests, memoryBytes: s.memoryBytes, opcache: s.opcache }));
  }

  private freeIndex(): number {
    const used = new Set([...this.slots].map((s) => s.index));
    let index = 0;
    while (used.has(index)) index++;
    return index;
  }

  /** Whether a request sent now would be taken by a worker (at once or from the queue), and if not why. */
  get readiness(): 'ready' | 'starting' | 'draining' | 'queue full' {
    if (this.closing) return 'draining';
    if (![...this.slots].some((s) => s.started && s.state !== 'gone')) return 'starting';
    return this.queue.length < this.options.queueLimit ? 'ready' : 'queue full';
  }

  /**
   * Runs `job` on a free worker, or queues it. `clientGone` aborts a job still waiting in the queue
   * (its client disconnected): it never takes a worker. A job already running is not stopped by it.
   * `selfCall`: PHP calling this server (may use a self-call worker); `timeoutMs`: a longer limit than
   * requestTimeoutMs for the server's own jobs (WordPress's cron).
   */
  run(job: PhpJob, body: WorkerBody, clientGone?: AbortSignal, { selfCall = false, timeoutMs }: { selfCall?: boolean; timeoutMs?: number } = {}): Promise<PhpResponse> {
    return new Promise((resolve, reject) => {
      if (this.closing) return reject(new PoolError(503, 'server is shutting down', 5));
      if (clientGone?.aborted) return reject(new PoolError(499, 'client closed the connection while waiting'));
      const pending: Pending = { job, body, resolve, reject, queuedAt: performance.now(), selfCall, timeoutMs };
      const slot = this.idleSlot(pending);
      if (slot) return this.dispatch(slot, pending);
      if (this.queue.length >= this.options.queueLimit) {
        return reject(new PoolError(503, `queue full (${this.options.queueLimit} waiting)`, this.retryAfter()));
      }
      const leave = (error: PoolError) => {
        clearTimeout(pending.timer);
        clientGone?.removeEventListener('abort', onGone);
        const at = this.queue.indexOf(pending);
        if (at === -1) return; // already dispatched
        this.queue.splice(at, 1);
        reject(error);
      };
      const onGone = () => leave(new PoolError(499, 'client closed the connection while waiting'));
      pending.timer = setTimeout(() => leave(new PoolError(503, `no worker free within ${this.options.queueTimeoutMs} ms`, this.retryAfter())), this.options.queueTimeoutMs);
      clientGone?.addEventListener('abort', onGone, { once: true });
      pending.detach = () => clientGone?.removeEventListener('abort', onGone);
      this.queue.push(pending);
      if (selfCall) this.addSelfCallWorkerIfNeeded();
    });
  }

  /**
   * A self-call waiting means its caller may be holding the worker it waits for: with every worker
   * busy that way, nothing would ever free one. A self-call worker is started for each self-call
   * waiting beyond those already starting, up to selfCallWorkers.
   */
  private addSelfCallWorkerIfNeeded(): void {
    if (this.closing) return;
    const reserve = [...this.slots].filter((s) => s.reserve && s.state !== 'gone' && !s.retiring);
    const starting = reserve.filter((s) => s.state === 'booting').length;
    const waiting = this.queue.filter((p) => p.selfCall).length;
    if (reserve.length >= (this.options.selfCallWorkers ?? 0) || waiting <= starting) return;
    this.options.log.info({ workers: reserve.length + 1 }, 'every worker is busy and PHP is calling this server: starting a self-call worker');
    this.spawn(true).ready.catch(() => undefined); // spawn logs the failure; the self-call times out in the queue
  }

  /** Stops taking work, lets running requests finish (up to graceMs), then stops every worker. */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    for (const pending of this.queue.splice(0)) {
      clearTimeout(pending.timer);
      pending.reject(new PoolError(503, 'server is shutting down', 5));
    }
    const allIdle = new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      this.checkIdle();
    });
    await Promise.race([allIdle, new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
    await Promise.all([...this.slots].map((slot) => this.kill(slot)));
  }

  private spawn(reserve = false): Slot {
    const id = nextProcessId++;
    const index = this.freeIndex();
    const slot = { id, index, memoryBytes: 0, warmMemoryBytes: 0, retireReason: 'recycled', state: 'booting', requests: 0, retiring: false, successorReady: false, started: false, generation: this.settingsGeneration, reserve } as Slot;
    this.slots.add(slot);
    let booted!: () => void;
    slot.booted = new Promise<void>((resolve) => { booted = resolve; });
    slot.ready = (async () => {
      const lockPort = await this.locks.portForWorker();
      const flowBuffer = createFlowBuffer();
      slot.flow = new OutputFlowControl(flowBuffer);
      slot.generation = this.settingsGeneration;
      const boot: WorkerBoot = { ...this.options.boot, processId: id, wasmModule: this.options.wasmModule, lockPort, flowBuffer };
      slot.worker = (this.options.startWorker ?? startThread)(boot, [lockPort]);
      await new Promise<void>((resolve, reject) => {
        slot.worker.on('message', (message: FromWorker) => {
          if (message.type === 'ready') {
            this.options.log.debug({ worker: id, bootMs: message.bootMs }, 'php worker booted');
            slot.memoryBytes = message.memoryBytes;
            if (this.selfRoute) slot.worker.postMessage({ type: 'self-route', route: this.selfRoute });
            resolve();
          } else if (message.type === 'notice') {
            this.options.log.warn({ worker: id, ...message.detail }, message.message);
          } else if (message.type === 'mail') {
            void this.relayMail(slot, message);
          } else if (message.type === 'boot-failed') {
            reject(new Error(`php worker ${id} failed to boot: ${message.error}`));
          } else {
            this.onWorkerMessage(slot, message);
          }
        });
        slot.worker.on('error', (error) => {
          reject(error);
          this.onWorkerGone(slot, error);
        });
        slot.worker.on('exit', (code) => {
          reject(new Error(`php worker ${id} exited with code ${code} while booting`));
          this.onWorkerGone(slot, new Error(`exited with code ${code}`));
        });
      });
      booted();
      // One warm-up at a time: php.wasm's machine code is shared by all workers and V8 optimises it
      // while the first runs, so the next warms up several times faster (and the first sooner).
      const warmed = this.warmTurn.then(async () => { for (const job of this.options.warmup) await this.warm(slot, job); });
      this.warmTurn = warmed.catch(() => undefined);
      await warmed;
      if (slot.state === 'gone') throw new Error(`php worker ${id} died while warming up`);
      slot.warmMemoryBytes = slot.memoryBytes;
      slot.state = 'idle';
      slot.started = true;
      this.options.observer?.workerStarted();
      this.onIdle(slot);
    })();
    slot.ready.catch(() => booted()).catch(() => undefined);
    slot.ready.catch((error) => {
      this.options.log.error({ worker: id, err: error }, 'php worker could not start');
      void this.kill(slot);
    });
    return slot;
  }

  private async warm(slot: Slot, job: PhpJob): Promise<void> {
    const started = performance.now();
    try {
      const response = await new Promise<PhpResponse>((resolve, reject) => {
        this.send(slot, { resolve, reject, job, body: null, queuedAt: 0 }, true);
      });
      for await (const _ of response.body); // eslint-disable-line @typescript-eslint/no-unused-vars -- drain
      this.options.log.debug({ worker: slot.id, path: job.relativeUri, ms: Math.round(performance.now() - started) }, 'php worker warmed');
    } catch (error) {
      this.options.log.warn({ worker: slot.id, path: job.relativeUri, err: error }, 'warm-up request failed');
    }
  }

  /** An idle worker that may take `pending`: self-call workers take only self-calls. */
  private idleSlot(pending: Pending): Slot | undefined {
    let best: Slot | undefined;
    for (const slot of this.slots) {
      if (slot.state !== 'idle' || (slot.reserve && !pending.selfCall)) continue;
      if (slot.requests >= HARD_REQUEST_LIMIT || (slot.retiring && slot.requests >= this.options.maxRequests + RETIRE_GRACE)) continue;
      // Prefer workers that are not about to leave, then the pool's own over self-call workers.
      if (!best || rank(slot) < rank(best)) best = slot;
    }
    return best;
  }

  private dispatch(slot: Slot, pending: Pending): void {
    clearTimeout(pending.timer);
    clearTimeout(slot.idleTimer);
    pending.detach?.();
    this.options.observer?.queueWait((performance.now() - pending.queuedAt) / 1000);
    slot.requests++;
    this.send(slot, pending, false);
    if (slot.requests >= this.options.maxRequests && !slot.retiring) this.retireOrLeave(slot, 'recycled');
  }

  /** A pool worker is replaced before it leaves; a self-call worker just leaves once idle (another starts when needed). */
  private retireOrLeave(slot: Slot, reason: Slot['retireReason']): void {
    if (!slot.reserve) return void this.retire(slot, reason);
    slot.retiring = true;
    slot.successorReady = true;
    slot.retireReason = reason;
    if (slot.state === 'idle') void this.kill(slot, undefined, reason);
  }

  private send(slot: Slot, pending: Pending, internal: boolean): void {
    const id = nextJobId++;
    slot.state = 'busy';
    const timeoutMs = pending.timeoutMs ?? this.options.requestTimeoutMs;
    const timer = setTimeout(() => this.onTimeout(slot, id), timeoutMs);
    slot.active = { id, resolve: pending.resolve, reject: pending.reject, timer, internal, startedAt: Date.now(), pushed: 0, timeoutMs };
    slot.flow.reset();
    const message: ToWorker = { type: 'run', id, job: pending.job, body: pending.body };
    slot.worker.postMessage(message);
  }

  private async relayMail(slot: Slot, { mailId, args, message }: Extract<FromWorker, { type: 'mail' }>): Promise<void> {
    let sent = false;
    try {
      sent = (await this.options.mail?.(args, Buffer.from(message.buffer, message.byteOffset, message.byteLength), slot.id)) ?? false;
    } catch (error) {
      this.options.log.error({ worker: slot.id, err: error }, 'mail relay failed');
    }
    // The worker may have been ended meanwhile (request timeout): nobody is waiting then.
    if (slot.state !== 'gone') slot.worker.postMessage({ type: 'mail-result', mailId, sent });
  }

  private onWorkerMessage(slot: Slot, message: FromWorker): void {
    const active = slot.active;
    if (!active || !('id' in message) || message.id !== active.id) return;
    switch (message.type) {
      case 'head':
        active.stream = new Readable({ highWaterMark: OUTPUT_HIGH_WATER, read: () => this.passedOn(slot, active) });
        // Destroyed before PHP finished (the client left, or stopped reading): PHP sees an aborted connection.
        active.stream.once('close', () => { if (slot.active === active) slot.flow.abort(); });
        if (message.data) this.push(slot, active, message.data);
        active.resolve({
          status: message.status,
          headers: message.headers,
          body: active.stream,
          whole: message.end ? (message.data ? toBuffer(message.data) : Buffer.alloc(0)) : undefined,
          workerId: slot.id,
          abort: () => { if (slot.active === active) slot.flow.abort(); },
        });
        if (message.end) this.finish(slot, active, message.end);
        return;
      case 'chunk':
        this.push(slot, active, message.data);
        return;
      case 'end':
        if (message.data) this.push(slot, active, message.data);
        this.finish(slot, active, message);
        return;
      case 'failed':
        // A trap can leave the instance broken: never reuse it.
        this.options.log.error({ worker: slot.id, error: message.error }, 'php crashed; replacing worker');
        void this.replace(slot, new PoolError(502, 'PHP crashed while handling the request'), 'crashed');
        return;
    }
  }

  private push(slot: Slot, active: Active, data: Uint8Array): void {
    active.pushed += data.byteLength;
    active.stream!.push(toBuffer(data));
    this.passedOn(slot, active);
  }

  /**
   * Tells the worker how much of the response left the stream for the client (credit for more).
   * While the stream stays full, the client is not reading: past the send timeout it is given up on.
   */
  private passedOn(slot: Slot, active: Active): void {
    const stream = active.stream;
    if (!stream || slot.active !== active) return;
    slot.flow.consumed(active.pushed - stream.readableLength);
    const full = stream.readableLength >= stream.readableHighWaterMark;
    if (!full) {
      clearTimeout(active.stalled);
      active.stalled = undefined;
    } else if (!active.stalled && this.options.sendTimeoutMs) {
      active.stalled = setTimeout(() => {
        if (slot.active !== active) return;
        this.options.log.warn({ worker: slot.id, sendTimeoutMs: this.options.sendTimeoutMs }, 'client took no data within the send timeout; response cut');
        slot.flow.abort();
        stream.destroy(new PoolError(504, 'client stopped reading'));
      }, this.options.sendTimeoutMs);
    }
  }

  private finish(slot: Slot, active: Active, end: RunEnd): void {
    clearTimeout(active.timer);
    clearTimeout(active.stalled);
    slot.memoryBytes = end.memoryBytes;
    if (end.opcache) {
      slot.opcache = end.opcache;
      slot.requests++; // the sample was a PHP run too: php.wasm's per-run descriptor leak counts it
    }
    if (end.errors.trim()) this.logPhpErrors(slot, end.errors);
    if (end.hitMemoryCeiling) this.options.log.warn({ worker: slot.id, memoryBytes: end.memoryBytes }, 'php script reached the memory ceiling (memory_limit cannot be raised past it)');
    active.stream?.push(null);
    slot.active = undefined;
    // A warm-up job hands the worker back to spawn(), which marks it idle when all are done.
    slot.state = active.internal ? 'booting' : 'idle';
    if (active.internal) return;
    const growth = slot.memoryBytes - slot.warmMemoryBytes;
    const limit = this.options.maxWorkerMemoryGrowth;
    if (limit && growth > limit && !slot.retiring) this.retireOrLeave(slot, 'memory');
    this.onIdle(slot);
  }

  private logPhpErrors(slot: Slot, errors: string): void {
    // One log entry per PHP message; a message's stack trace stays with it.
    for (const message of errors.split(/\n(?=PHP )/)) {
      if (message.trim()) this.options.log.warn({ worker: slot.id, php: message.trim() }, 'php');
    }
  }

  private onTimeout(slot: Slot, jobId: number): void {
    const active = slot.active;
    if (active?.id !== jobId) return;
    // The limit is on PHP's own running time: time it spent blocked on a slow client does not count.
    const left = active.startedAt + active.timeoutMs + slot.flow.blockedMs() - Date.now();
    if (left > 0) {
      active.timer = setTimeout(() => this.onTimeout(slot, jobId), left);
      return;
    }
    this.options.log.warn({ worker: slot.id, timeoutMs: active.timeoutMs }, 'request timed out; terminating worker');
    void this.replace(slot, new PoolError(504, `script ran longer than ${active.timeoutMs / 1000} s`), 'timeout');
  }

  private detachActive(slot: Slot): Active | undefined {
    const active = slot.active;
    if (!active) return undefined;
    clearTimeout(active.timer);
    clearTimeout(active.stalled);
    slot.active = undefined;
    return active;
  }

  private fail(active: Active, error: PoolError): void {
    if (active.stream) active.stream.destroy(error);
    else active.reject(error);
  }

  private onWorkerGone(slot: Slot, error: Error): void {
    if (slot.state === 'gone') return;
    this.options.log.error({ worker: slot.id, err: error }, 'php worker died; replacing it');
    void this.replace(slot, new PoolError(502, 'PHP worker died while handling the request'), 'crashed');
  }

  /** Ends a worker now and starts another in its place (timeouts, crashes); its request gets `error`. */
  private async replace(slot: Slot, error: PoolError, reason: WorkerExit): Promise<void> {
    // A worker that dies while booting or warming up is retried by whoever spawned it (spawnWithBackoff,
    // retire, start): starting another here too grew the pool by one on every failed warm-up.
    const wasLive = slot.state !== 'gone' && slot.started;
    const stopped = this.kill(slot, error, slot.started ? reason : 'failed-to-start');
    // Not after it stopped: a worker caught in one long wasm instruction took seconds to end, and
    // requests queued behind a missing worker meanwhile.
    if (wasLive && !this.closing && !slot.retiring && !slot.reserve) void this.spawnWithBackoff();
    await stopped;
  }

  private bootFailures = 0;
  /** Starts a worker, and another after a pause each time one fails; resolves as the first starts. */
  private spawnWithBackoff(): Promise<void> {
    const slot = this.spawn();
    slot.ready.then(
      () => { this.bootFailures = 0; },
      () => {
        this.bootFailures++;
        const delay = Math.min(30_000, 500 * 2 ** this.bootFailures);
        if (!this.closing) setTimeout(() => void this.spawnWithBackoff(), delay).unref();
      },
    );
    return slot.ready;
  }

  /** Recycling: boot and warm the successor first, so capacity never drops. */
  private retire(slot: Slot, reason: Slot['retireReason'] = 'recycled'): Promise<void> {
    slot.retiring = true;
    slot.retireReason = reason;
    this.options.log.info({ worker: slot.id, requests: slot.requests, reason, memoryBytes: slot.memoryBytes, warmMemoryBytes: slot.warmMemoryBytes }, 'recycling php worker');
    const successor = this.spawn().ready;
    successor.then(
      () => {
        slot.successorReady = true;
        if (slot.state === 'idle') void this.kill(slot, undefined, slot.retireReason);
      },
      () => {
        // The successor never came: keep capacity. If the old worker is gone meanwhile, replace it
        // (replace() left that to us); if it can take no more requests, try again after a pause;
        // otherwise try again at its next request.
        if (this.closing) return;
        if (slot.state === 'gone') return void this.spawnWithBackoff();
        slot.retiring = false;
        if (slot.requests >= HARD_REQUEST_LIMIT) setTimeout(() => { if (slot.state !== 'gone' && !slot.retiring) void this.retire(slot); }, 1000).unref();
      },
    );
    return successor;
  }

  /**
   * Takes new worker settings (a reload): workers started from now on use them. If what a worker
   * boots with changed, every worker started with older settings is replaced, one at a time, each
   * successor booted and warm before its predecessor leaves, so capacity never drops. That includes a
   * worker still starting when the reload came (a crash replacement, a recycling successor): it
   * booted with the old settings, so it is waited for and replaced too. A new size adds workers, or
   * lets the surplus leave as each becomes idle. Resolves when none is left with old settings; a
   * successor that fails to start leaves its predecessor serving (and the error in the log).
   */
  async reconfigure(settings: ReloadableSettings): Promise<void> {
    // Limits and the size are read as they are needed: only what a worker boots with makes one stale.
    const bootChanged = !isDeepStrictEqual(settings.boot, this.options.boot) || !isDeepStrictEqual(settings.warmup, this.options.warmup);
    Object.assign(this.options, settings);
    const generation = bootChanged ? ++this.settingsGeneration : this.settingsGeneration;
    const added = this.resize(settings.size);
    if (bootChanged) for (const slot of this.slots) if (slot.reserve && slot.state !== 'gone') this.retireOrLeave(slot, 'reload');
    const tried = new Set<Slot>();
    for (;;) {
      if (this.closing) return;
      // A retiring worker leaves by itself; its successor is a slot of its own, judged on its own.
      const stale = [...this.slots].find((s) => s.state !== 'gone' && s.generation !== generation && !s.retiring && !s.reserve && !tried.has(s));
      if (!stale) break;
      if (!stale.started) {
        await stale.ready.catch(() => undefined); // then replaced like the others (or gone)
        continue;
      }
      tried.add(stale);
      await this.retire(stale, 'reload').catch(() => undefined);
    }
    await Promise.all(added);
  }

  /**
   * Workers that stay (not retiring) brought to `size`: new ones start (retried like crash
   * replacements); surplus ones, older settings and idle first, retire with no successor, so each
   * leaves once its request is done (onIdle) and a crash of one is not replaced (replace).
   */
  private resize(size: number): Array<Promise<void>> {
    const members = [...this.slots].filter((s) => s.state !== 'gone' && !s.retiring && !s.reserve);
    const added: Array<Promise<void>> = [];
    for (let n = members.length; n < size; n++) added.push(this.spawnWithBackoff().catch(() => undefined));
    const surplus = members
      .sort((a, b) => Number(a.generation === this.settingsGeneration) - Number(b.generation === this.settingsGeneration) || Number(a.state !== 'idle') - Number(b.state !== 'idle'))
      .slice(0, Math.max(0, members.length - size));
    for (const slot of surplus) {
      slot.retiring = true;
      slot.successorReady = true;
      slot.retireReason = 'reload';
      this.options.log.info({ worker: slot.id, workers: size }, 'fewer workers: this one leaves once idle');
      if (slot.state === 'idle') void this.kill(slot, undefined, 'reload');
    }
    return added;
  }

  private async kill(slot: Slot, error = new PoolError(503, 'worker stopped', 1), reason: WorkerExit = this.closing ? 'closed' : 'failed-to-start'): Promise<void> {
    if (slot.state === 'gone') return;
    this.options.observer?.workerExited(reason);
    slot.state = 'gone';
    clearTimeout(slot.idleTimer);
    this.slots.delete(slot);
    const active = this.detachActive(slot);
    // Its locks are released only once it has really stopped: released earlier, a script still
    // writing could corrupt a database another worker now writes too.
    const stopped = (slot.worker?.terminate() ?? Promise.resolve(0)).catch(() => 0).finally(() => {
      this.locks.releaseProcess(slot.id);
      this.checkIdle();
    });
    if (active) {
      // Usually it stops within milliseconds, and a client acting on the 504 then finds the database
      // unlocked. Inside one long wasm instruction (a memory copy of a gigabyte) it took seconds: the
      // answer does not wait for that, so the timeout holds on wall-clock time.
      await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, TERMINATE_WAIT_MS))]);
      this.fail(active, error);
    }
    await stopped;
  }

  private onIdle(slot: Slot): void {
    if (slot.retiring && slot.successorReady) {
      void this.kill(slot, undefined, slot.retireReason);
      this.pump();
      return;
    }
    this.pump();
    if (slot.reserve && slot.state === 'idle') {
      clearTimeout(slot.idleTimer);
      slot.idleTimer = setTimeout(() => { if (slot.state === 'idle') void this.kill(slot, undefined, 'idle'); }, this.options.selfCallWorkerIdleMs ?? SELF_CALL_WORKER_IDLE_MS).unref();
    }
    this.checkIdle();
  }

  /** Hands queued requests to idle workers, in order; a self-call may pass requests a self-call worker cannot take. */
  private pump(): void {
    for (let at = 0; at < this.queue.length;) {
      const slot = this.idleSlot(this.queue[at]!);
      if (!slot) {
        at++;
        continue;
      }
      this.dispatch(slot, this.queue.splice(at, 1)[0]!);
    }
    // A self-call worker that left (recycled, reloaded) may have been what a waiting self-call counted on.
    if (this.queue.some((p) => p.selfCall)) this.addSelfCallWorkerIfNeeded();
  }

  private checkIdle(): void {
    if (![...this.slots].some((s) => s.state === 'busy')) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private retryAfter(): number {
    return Math.max(1, Math.ceil(this.options.requestTimeoutMs / 1000 / 4));
  }
}

/** Lower is preferred: a worker staying over one about to leave, the pool's own over a self-call worker. */
function rank(slot: Slot): number {
  return (slot.retiring ? 2 : 0) + (slot.reserve ? 1 : 0);
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
