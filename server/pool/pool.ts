import { isDeepStrictEqual } from 'node:util';
import { MessageChannel, Worker, type WorkerOptions } from 'node:worker_threads';
import type { PhpJob } from '../cgi.js';
import type { SelfRoute } from '../sandbox/self-route.js';
import { systemClock, type Clock, type Timer } from './clock.js';
import { SharedFileLocks } from './locks.js';
import { closeGate } from './native-call-gate.js';
import { WarmImages } from './warm-images.js';
import type { KeptImageStaleness } from './kept-image-refresh.js';
import type { FromWorker, RunEnd, WorkerBody, WorkerBoot } from './messages.js';
import type { OpcacheSample } from './opcache-sample.js';
import { DEFAULT_OPCACHE_GROWTH, iniSetsOpcacheSize, OpcacheSizing } from './opcache-size.js';
import { PoolError, type LeaveReason, type PhpResponse, type PoolOptions, type PoolWorker, type ReloadableSettings, type WorkerExit } from './pool-types.js';
import { RequestQueue, type PendingJob } from './request-queue.js';
import { RunningJob, type Waiter } from './running-job.js';
import { WorkerHandle } from './worker-handle.js';
import type { WorkerPhase } from './worker-lifecycle.js';

export { PoolError } from './pool-types.js';
export type { PhpResponse, PoolObserver, PoolOptions, PoolWorker, ReloadableSettings, WorkerExit } from './pool-types.js';

const startThread = (boot: WorkerBoot): PoolWorker => new Worker(WORKER_URL, workerThreadOptions(boot));

/**
 * A PHP worker's JavaScript allocates little and briefly (one request's messages and views), so a
 * 4 MB young generation (V8's default is 16 MB semi-spaces) suffices: measured, 15-20 MB less
 * RSS per worker idle and ~40 MB less after load, at equal throughput (home 14.5 vs 14.3 req/s,
 * trivial .php 749-789 vs 754-757 req/s).
 */
export const WORKER_YOUNG_GENERATION_MB = 4;

export function workerThreadOptions(boot: WorkerBoot): WorkerOptions {
  return { workerData: boot, transferList: boot.modulePort ? [boot.modulePort] : [], resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } };
}

const WORKER_URL = new URL('./worker.js', import.meta.url);

/** Workers that may share a warm image boot with the same settings: the same reload, the same opcache size. */
const imageKey = (handle: WorkerHandle) => `${handle.generation}:${handle.opcacheMb ?? ''}`;
const isStale = (stale: KeptImageStaleness) => stale.paths !== 0 || stale.scripts !== 0;
const staleReason = (stale: KeptImageStaleness) =>
  stale.paths < 0 ? 'its refresh did not say what changed' : `${stale.paths} paths resolve elsewhere now, ${stale.scripts} scripts changed since it was taken`;

/** Requests a worker due for recycling may still take while its successor boots. */
const RETIRE_GRACE = 200;
/** How long an answer for a stopped worker's request waits for the worker to end (see kill). */
const TERMINATE_WAIT_MS = 250;
/** How long a worker's koffi call in progress (a zero-page slice: milliseconds) may delay its termination. */
const NATIVE_CALL_WAIT_MS = 2_000;
/** How long a self-call worker stays without a self-call to serve. */
const SELF_CALL_WORKER_IDLE_MS = 60_000;
/** How long a waiting self-call counts on the pool's starting workers while one of them runs a warm-up job (see addSelfCallWorkerIfNeeded). */
const SELF_CALL_PATIENCE_MS = 3_000;
/** How long start() holds the other workers back for a first worker serving visitors as its warm-up (see start). */
const FIRST_PAGE_PATIENCE_MS = 2_000;

let nextProcessId = 100;
let nextJobId = 1;

/**
 * Pre-instantiated php.wasm workers with a bounded FIFO queue. Owns every policy about them:
 * queue limits, request timeouts (terminate + replace), crash replacement, and recycling off the
 * request path (the successor boots and warms before the old worker leaves). Each worker's life is
 * the state machine in worker-lifecycle.ts; the pool decides when it moves.
 */
export class WorkerPool {
  private readonly workers = new Set<WorkerHandle>();
  private readonly queue: RequestQueue;
  private readonly locks = new SharedFileLocks();
  private readonly clock: Clock;
  private closing = false;
  private warmTurn: Promise<void> = Promise.resolve();
  /** Asks again when a waiting self-call stops counting on a worker warming up. */
  private selfCallPatience?: Timer;
  /** While start() holds the other workers back: how many, and what lets them start at once. */
  private heldBack?: { workers: number; release: () => void };
  /** Counts reloads: each worker remembers the one whose settings it booted with. */
  private settingsGeneration = 0;
  private idleWaiters: Array<() => void> = [];
  private selfRoute?: SelfRoute;
  /** Said once in the log. */
  private memoryReleaseUnavailable = false;
  /** Requests handed to workers since the pool started (warm-ups and samples not counted). */
  private dispatched = 0;
  /** Probes waiting for a worker's answer; settled when it answers, ends, or takes too long. */
  private readonly optimizedCodeProbes = new Map<number, { worker: WorkerHandle; answer: (optimized: boolean | string) => void }>();
  private nextProbeId = 1;
  /** Failed starts in a row (spawnWithBackoff's pause doubles with each). */
  private bootFailures = 0;

  private readonly options: PoolOptions;
  private opcacheSizing: OpcacheSizing;
  private readonly warmImages: WarmImages;

  /** php.wasm once it is made (see PoolOptions.wasmModule). */
  private module: WebAssembly.Module | Promise<WebAssembly.Module>;

  constructor(options: PoolOptions) {
    this.options = { ...options };
    this.module = options.wasmModule;
    if (this.module instanceof Promise) this.module.then((module) => { this.module = module; }, () => undefined);
    this.clock = options.clock ?? systemClock;
    this.queue = new RequestQueue(this.clock);
    this.opcacheSizing = this.newOpcacheSizing();
    this.warmImages = new WarmImages(options.warmImages === true, options.log, options.keptImages);
  }

  private newOpcacheSizing(): OpcacheSizing {
    return new OpcacheSizing(iniSetsOpcacheSize(this.options.boot.phpIni) ? undefined : (this.options.opcacheGrowth ?? DEFAULT_OPCACHE_GROWTH));
  }

  /**
   * Resolves once the first worker is warm. It boots and warms alone: the others, booting beside it,
   * took CPU from the V8 compiler threads it waits on (2 cores: first page after start 4.4 → 4.1 s).
   * Its warm-up may be the first visitors' pages (see visitorsWaitOnlyFor: 1.88 → 1.75 s, median of 6).
   * The others start as it becomes warm (or fails) and take traffic as each finishes (warmUp: one at a time).
   */
  async start(): Promise<void> {
    this.adoptKeptImage();
    const first = this.spawn();
    const firstStarted = await first.ready.then(() => true, () => false);
    if (firstStarted) await this.holdOthersBackFor(first);
    const others = this.closing ? 0 : this.options.size - 1;
    const started = [first, ...Array.from({ length: others }, () => this.spawn())];
    if (!firstStarted) await Promise.any(started.map((worker) => worker.ready)).catch(() => Promise.all(started.map((worker) => worker.ready)));
    // Serving with at least one worker: one that failed to start is replaced like any other.
    for (const worker of started) worker.ready.catch(() => { if (!this.closing) void this.spawnWithBackoff(); });
  }

  /**
   * The image the last run kept for these settings (see kept-image.ts): the first worker starts warm
   * from it. opcache starts at the size that image has: the size the site grew to last time.
   */
  private adoptKeptImage(): void {
    const found = this.warmImages.findKept(this.options.boot);
    if (!found) return;
    if (found.opcacheMb !== (this.opcacheSizing.nextWorkerMb ?? null) && !(found.opcacheMb !== null && this.opcacheSizing.resume(found.opcacheMb))) {
      return void this.options.log.debug({ opcacheMb: found.opcacheMb }, 'the warm image kept from the last run has an opcache size this start cannot use');
    }
    this.warmImages.adopt(found, `${this.settingsGeneration}:${this.opcacheSizing.nextWorkerMb ?? ''}`);
  }

  /**
   * Until the first worker is warm. Already so after a warm-up; when visitors' pages are its warm-up
   * (visitorsWaitOnlyFor), until the first of them is done, but FIRST_PAGE_PATIENCE_MS at most (a slow
   * page must not keep the pool at one worker) and not once PHP calls this server (that call may need
   * another worker: see addSelfCallWorkerIfNeeded, which counts the held-back ones as starting).
   */
  private async holdOthersBackFor(first: WorkerHandle): Promise<void> {
    let timer: Timer | undefined;
    await new Promise<void>((resolve) => {
      this.heldBack = { workers: this.options.size - 1, release: resolve };
      timer = this.clock.setTimeout(resolve, FIRST_PAGE_PATIENCE_MS, true);
      void first.warm.then(resolve);
    });
    this.clock.clearTimeout(timer);
    this.heldBack = undefined;
  }

  /** `selfCallWorkers`: how many of `workers` are self-call workers (see PoolOptions). */
  get stats(): { workers: number; busy: number; idle: number; starting: number; queued: number; closing: boolean; selfCallWorkers: number } {
    const live = this.live();
    const count = (which: (worker: WorkerHandle) => boolean) => live.filter(which).length;
    return {
      workers: live.length,
      busy: count((w) => w.lifecycle.running),
      idle: count((w) => w.phase === 'idle'),
      starting: count((w) => w.lifecycle.starting),
      queued: this.queue.length,
      closing: this.closing,
      selfCallWorkers: count((w) => w.selfCallOnly),
    };
  }

  /** Where PHP's connections to this server go; known once it listens, before any request reaches a worker. */
  setSelfRoute(route: SelfRoute): void {
    this.selfRoute = route;
    for (const worker of this.live()) worker.worker?.postMessage({ type: 'self-route', route });
  }

  /** Each live worker as metrics see it. */
  workerStates(): Array<{ slot: number; state: WorkerPhase; requests: number; memoryBytes: number; opcache?: OpcacheSample }> {
    return this.live().map((w) => ({ slot: w.index, state: w.phase, requests: w.requests, memoryBytes: w.memoryBytes, opcache: w.opcache }));
  }

  /** Whether a request sent now would be taken by a worker (at once or from the queue), and if not why. */
  get readiness(): 'ready' | 'starting' | 'draining' | 'queue full' {
    if (this.closing) return 'draining';
    if (!this.live().some((w) => w.lifecycle.serving)) return 'starting';
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
      const pending: PendingJob = { job, body, resolve, reject, queuedAt: this.clock.now(), selfCall, timeoutMs };
      const free = this.freeWorkerFor(pending);
      if (free) return this.dispatch(free, pending);
      if (this.queue.length >= this.options.queueLimit) {
        return reject(new PoolError(503, `queue full (${this.options.queueLimit} waiting)`, this.retryAfter()));
      }
      const timeout = this.options.queueTimeoutMs;
      this.queue.add(pending, timeout, () => new PoolError(503, `no worker free within ${timeout} ms`, this.retryAfter()), clientGone);
      if (selfCall) {
        this.heldBack?.release();
        this.addSelfCallWorkerIfNeeded();
      }
    });
  }

  /** Stops taking work, lets running requests finish (up to graceMs), then stops every worker. */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    this.clock.clearTimeout(this.selfCallPatience);
    this.queue.rejectAll(new PoolError(503, 'server is shutting down', 5));
    const allIdle = new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      this.checkIdle();
    });
    let graceTimer: Timer | undefined;
    await Promise.race([allIdle, new Promise<void>((resolve) => { graceTimer = this.clock.setTimeout(resolve, graceMs, true); })]);
    this.clock.clearTimeout(graceTimer);
    await Promise.all([...this.workers].map((worker) => this.kill(worker)));
    this.warmImages.close();
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
    // The size the site grew to stays, unless php.ini now sets it (or stops setting it).
    if (iniSetsOpcacheSize(settings.boot.phpIni) !== (this.opcacheSizing.nextWorkerMb === undefined)) this.opcacheSizing = this.newOpcacheSizing();
    const generation = bootChanged ? ++this.settingsGeneration : this.settingsGeneration;
    if (bootChanged) this.warmImages.settingsChanged();
    const added = this.resize(settings.size);
    if (bootChanged) for (const worker of this.live()) if (worker.selfCallOnly) this.recycle(worker, 'reload');
    const tried = new Set<WorkerHandle>();
    for (;;) {
      if (this.closing) return;
      // A worker already leaving goes by itself; its successor is a worker of its own, judged on its own.
      const stale = this.live().find((w) => w.generation !== generation && !w.leaving && !w.selfCallOnly && !tried.has(w));
      if (!stale) break;
      if (stale.lifecycle.starting) {
        await stale.ready.catch(() => undefined); // then replaced like the others (or gone)
        continue;
      }
      tried.add(stale);
      await this.replaceWhenSuccessorReady(stale, 'reload').catch(() => undefined);
    }
    await Promise.all(added);
  }

  // ── Starting workers ──────────────────────────────────────────────────────────────────────────

  private spawn(selfCallOnly = false): WorkerHandle {
    const id = nextProcessId++;
    const worker = new WorkerHandle(id, this.freeIndex(), this.settingsGeneration, selfCallOnly, (from, to) => this.options.observer?.workerPhase?.(id, from, to));
    this.workers.add(worker);
    worker.ready = this.bootAndWarm(worker);
    worker.ready.catch((error: unknown) => {
      this.options.log.error({ worker: worker.id, err: error }, 'php worker could not start');
      void this.kill(worker);
    });
    return worker;
  }

  private async bootAndWarm(handle: WorkerHandle): Promise<void> {
    await this.boot(handle);
    if (handle.phase === 'gone') throw new Error(`php worker ${handle.id} was stopped while booting`);
    handle.lifecycle.moveTo('warming');
    // Started from a warm worker's image: warm already, and its memory holds no zero pages to give back.
    // With visitors waiting it serves them first all the same: the others are held back until its
    // first page is done (see start), so that page has the CPU to itself.
    const visitorsWaiting = this.visitorsWaitOnlyFor(handle);
    handle.baselineAfterFirstRequest = visitorsWaiting;
    if (!visitorsWaiting) {
      if (!handle.fromImage) await this.warmUp(handle);
      if (handle.lifecycle.is('gone')) throw new Error(`php worker ${handle.id} died while warming up`);
      handle.warmMemoryBytes = handle.memoryBytes;
      handle.becameWarm();
      // Before its first request: an image holds nothing of a visitor's.
      if (!handle.fromImage && !handle.selfCallOnly) this.takeWarmImage(handle);
    }
    handle.lifecycle.moveTo('idle');
    this.options.observer?.workerStarted();
    // Before its first request (which ends the scan): a successor under load may never see a quiet pool.
    // Not when visitors wait: a fresh instance has little to give back, and the scan would slow their page.
    if (!visitorsWaiting && !handle.fromImage) this.releaseMemoryOf(handle);
    this.onFree(handle);
  }

  /** Asks a worker just warmed for its memory image, if the pool has none for its settings (see warm-images.ts). */
  private takeWarmImage(handle: WorkerHandle): void {
    // A worker of older settings (a reload, opcache grown meanwhile) would only replace a newer image.
    if (handle.generation !== this.settingsGeneration || handle.opcacheMb !== this.opcacheSizing.nextWorkerMb) return;
    const path = this.warmImages.wanted(imageKey(handle), handle.id, { boot: this.options.boot, opcacheMb: handle.opcacheMb ?? null });
    if (path) handle.worker?.postMessage({ type: 'take-warm-image', path });
  }

  /**
   * Requests wait and no other worker serves (the server's start, or every worker gone): a warm-up
   * would only make them wait longer, so their own pages warm this worker. With php.wasm's code
   * cached, a cold page costs ~0.2 s more than a warm one, while the warm-up costs the whole page.
   */
  private visitorsWaitOnlyFor(handle: WorkerHandle): boolean {
    if (handle.selfCallOnly || this.queue.length === 0) return false;
    return !this.live().some((w) => w !== handle && w.lifecycle.serving);
  }

  /** Starts its thread and waits for php.wasm to be instantiated in it. */
  private async boot(handle: WorkerHandle): Promise<void> {
    if (handle.phase === 'gone') throw new Error(`php worker ${handle.id} was stopped while booting`);
    handle.generation = this.settingsGeneration; // the settings read now are the ones it boots with
    handle.opcacheMb = this.opcacheSizing.nextWorkerMb;
    const phpIni = this.options.boot.phpIni + this.opcacheSizing.iniLine();
    const warmImage = this.warmImages.forBoot(imageKey(handle));
    const boot: WorkerBoot = { ...this.options.boot, phpIni, processId: handle.id, ...this.moduleFor(), lockTable: this.locks.buffer, flowBuffer: handle.flowBuffer, nativeCallGate: handle.nativeCallGate, ...(warmImage ? { warmImage } : {}) };
    const worker = (this.options.startWorker ?? startThread)(boot);
    handle.worker = worker;
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (message: FromWorker) => {
        if (message.type === 'ready') {
          handle.fromImage = message.image?.restored === true;
          if (message.image && !message.image.restored && warmImage) this.warmImages.refused(handle.id, message.image.refused, message.image.lasting, warmImage.path);
          const stale = message.image?.restored ? message.image.stale : undefined;
          this.options.log.debug({ worker: handle.id, bootMs: message.bootMs, fromImage: handle.fromImage, ...(stale ? { stale } : {}) }, 'php worker booted');
          if (stale && isStale(stale)) {
            // Code changed since the kept image was taken: that image goes, and this worker warms up as a fresh one does (see bootAndWarm).
            this.warmImages.keptIsStale(staleReason(stale));
            handle.fromImage = false;
          }
          handle.memoryBytes = message.memoryBytes;
          if (this.selfRoute) worker.postMessage({ type: 'self-route', route: this.selfRoute });
          resolve();
        } else if (message.type === 'boot-failed') {
          // Perhaps the image's doing (a file cut short): the next worker must not fail the same way.
          if (warmImage) this.warmImages.refused(handle.id, `a worker given it failed to boot: ${message.error.split('\n')[0]}`, true, warmImage.path);
          reject(new Error(`php worker ${handle.id} failed to boot: ${message.error}`));
        } else {
          this.onWorkerMessage(handle, message);
        }
      });
      worker.on('error', (error) => {
        reject(error);
        this.onWorkerGone(handle, error);
      });
      worker.on('exit', (code) => {
        for (const probe of this.optimizedCodeProbes.values()) if (probe.worker === handle) probe.answer('the worker ended');
        reject(new Error(`php worker ${handle.id} exited with code ${code} while booting`));
        this.onWorkerGone(handle, new Error(`exited with code ${code}`));
      });
    });
  }

  /** The module itself, or a port it comes on once made (null if it cannot be: the worker fails to boot). */
  private moduleFor(): Pick<WorkerBoot, 'wasmModule' | 'modulePort'> {
    const module = this.module;
    if (!(module instanceof Promise)) return { wasmModule: module };
    const { port1, port2 } = new MessageChannel();
    const send = (made: WebAssembly.Module | null) => {
      port1.postMessage(made);
      port1.close();
    };
    module.then(send, () => send(null));
    return { modulePort: port2 };
  }

  /**
   * One warm-up at a time: php.wasm's machine code is shared by all workers and V8 optimises it
   * while the first runs, so the next warms up several times faster (and the first sooner).
   */
  private async warmUp(handle: WorkerHandle): Promise<void> {
    const warmAll = async () => {
      for (const job of this.options.warmup) {
        if (handle.phase !== 'warming') return;
        await this.warm(handle, job);
      }
    };
    // A self-call worker does not wait for its turn: the warm-up running may be what calls it.
    if (handle.selfCallOnly) return warmAll();
    const warmed = this.warmTurn.then(warmAll);
    this.warmTurn = warmed.catch(() => undefined);
    await warmed;
  }

  private async warm(handle: WorkerHandle, job: PhpJob): Promise<void> {
    const started = this.clock.now();
    try {
      const response = await new Promise<PhpResponse>((resolve, reject) => {
        this.send(handle, { resolve, reject }, job, null, true);
        if (this.queue.selfCalls > 0) this.addSelfCallWorkerIfNeeded(); // it is counted on for a while only now
      });
      for await (const _ of response.body); // eslint-disable-line @typescript-eslint/no-unused-vars -- drain
      this.options.log.debug({ worker: handle.id, path: job.relativeUri, ms: Math.round(this.clock.now() - started) }, 'php worker warmed');
    } catch (error) {
      this.options.log.warn({ worker: handle.id, path: job.relativeUri, err: error }, 'warm-up request failed');
    }
  }

  /** Starts a worker, and another after a pause each time one fails; resolves as the first starts. */
  private spawnWithBackoff(): Promise<void> {
    const worker = this.spawn();
    worker.ready.then(
      () => { this.bootFailures = 0; },
      () => {
        this.bootFailures++;
        const delay = Math.min(30_000, 500 * 2 ** this.bootFailures);
        if (!this.closing) this.clock.setTimeout(() => void this.spawnWithBackoff(), delay, true);
      },
    );
    return worker.ready;
  }

  /**
   * A self-call waiting means its caller may be holding the worker it waits for: with every worker
   * busy that way, nothing would ever free one. A self-call worker is started for each self-call
   * waiting beyond the workers that will soon be free to take it, up to selfCallWorkers.
   *
   * Soon free: self-call workers starting, and the pool's own starting workers. At start-up the
   * pool's other workers boot after the first, and WordPress's first pages call wp-cron.php: counting
   * them saves booting a third php.wasm (~70 MB for a minute, and CPU those pages need). But while a
   * pool worker runs a warm-up job, that page may be the very caller, and the pool's other starting
   * workers warm up only after it: then they all count for SELF_CALL_PATIENCE_MS of that warm-up (and
   * of the wait) only.
   */
  private addSelfCallWorkerIfNeeded(): void {
    this.clock.clearTimeout(this.selfCallPatience);
    if (this.closing) return;
    let selfCallWorkers = this.live().filter((w) => w.selfCallOnly && !w.leaving).length;
    const waiting = this.queue.selfCalls;
    if (selfCallWorkers >= (this.options.selfCallWorkers ?? 0) || waiting === 0) return;
    const starting = this.live().filter((w) => !w.leaving && w.lifecycle.starting);
    const selfCallStarting = starting.filter((w) => w.selfCallOnly).length;
    const warmUps = starting.filter((w) => !w.selfCallOnly && w.job).map((w) => w.job!.startedAt);
    let soonFree = starting.length + (this.heldBack?.workers ?? 0); // held back: they start now (see start)
    if (warmUps.length > 0) {
      const patienceEndsAt = Math.max(this.queue.oldestSelfCallAt!, ...warmUps) + SELF_CALL_PATIENCE_MS;
      const patient = this.clock.now() < patienceEndsAt;
      if (!patient) soonFree = selfCallStarting;
      else if (waiting > selfCallStarting) {
        this.selfCallPatience = this.clock.setTimeout(() => this.addSelfCallWorkerIfNeeded(), patienceEndsAt - this.clock.now(), true);
      }
    }
    for (; waiting > soonFree && selfCallWorkers < (this.options.selfCallWorkers ?? 0); soonFree++, selfCallWorkers++) {
      this.options.log.info({ workers: selfCallWorkers + 1 }, 'every worker is busy and PHP is calling this server: starting a self-call worker');
      this.spawn(true).ready.catch(() => undefined); // spawn logs the failure; the self-call times out in the queue
    }
  }

  // ── Serving ───────────────────────────────────────────────────────────────────────────────────

  /** An idle worker that may take `pending`: self-call workers take only self-calls. */
  private freeWorkerFor(pending: PendingJob): WorkerHandle | undefined {
    let best: WorkerHandle | undefined;
    for (const worker of this.workers) {
      if (worker.phase !== 'idle' || (worker.selfCallOnly && !pending.selfCall)) continue;
      if (worker.leaving && worker.requests >= this.options.maxRequests + RETIRE_GRACE) continue;
      // Prefer workers that are not about to leave, then the pool's own over self-call workers.
      if (!best || worker.rank < best.rank) best = worker;
    }
    return best;
  }

  private dispatch(worker: WorkerHandle, pending: PendingJob): void {
    this.clock.clearTimeout(worker.idleTimer);
    this.options.observer?.queueWait((this.clock.now() - pending.queuedAt) / 1000);
    worker.requests++;
    this.dispatched++;
    worker.lifecycle.moveTo('busy');
    this.send(worker, pending, pending.job, pending.body, false, pending.timeoutMs);
    if (worker.requests >= this.options.maxRequests && !worker.leaving) this.recycle(worker, 'recycled');
  }

  private send(worker: WorkerHandle, waiter: Waiter, job: PhpJob, body: WorkerBody, internal: boolean, timeoutMs = this.options.requestTimeoutMs): void {
    const id = nextJobId++;
    worker.job = new RunningJob(id, waiter, internal, timeoutMs, {
      workerId: worker.id,
      flow: worker.flow,
      clock: this.clock,
      log: this.options.log,
      sendTimeoutMs: this.options.sendTimeoutMs,
      timedOut: (timedOut) => {
        if (worker.job !== timedOut) return;
        this.options.log.warn({ worker: worker.id, timeoutMs: timedOut.timeoutMs }, 'request timed out; terminating worker');
        void this.stopAndReplace(worker, new PoolError(504, `script ran longer than ${timedOut.timeoutMs / 1000} s`), 'timeout');
      },
    });
    worker.worker!.postMessage({ type: 'run', id, job, body });
  }

  private onWorkerMessage(worker: WorkerHandle, message: FromWorker): void {
    if (message.type === 'notice') return void this.options.log.warn({ worker: worker.id, ...message.detail }, message.message);
    if (message.type === 'mail') return void this.relayMail(worker, message);
    if (message.type === 'code-changed') return this.shareCodeChanges(worker, message.paths);
    if (message.type === 'memory-released') return this.memoryReleased(worker, message);
    if (message.type === 'warm-image') return this.warmImages.written(message);
    if (message.type === 'reset') return this.resetDone(worker, message);
    if (message.type === 'optimized-code') return this.optimizedCodeProbes.get(message.probeId)?.answer(message.optimized);
    const job = worker.job;
    if (!job || !('id' in message) || message.id !== job.id) return;
    switch (message.type) {
      case 'head':
        job.head(message);
        if (message.end) this.finish(worker, job, message.end);
        return;
      case 'chunk':
        job.push(message.data);
        return;
      case 'end':
        if (message.data) job.push(message.data);
        this.finish(worker, job, message);
        return;
      case 'failed':
        // A trap can leave the instance broken: never reuse it.
        this.options.log.error({ worker: worker.id, error: message.error }, 'php crashed; replacing worker');
        void this.stopAndReplace(worker, new PoolError(502, 'PHP crashed while handling the request'), 'crashed');
        return;
    }
  }

  /**
   * PHP in one worker rewrote code files: every other worker, starting ones included, drops its
   * compiled copies before its next request (see stale-code.ts). The worker sends them before PHP's
   * next socket send (a loopback request) and before any of its response, so a request those lead to
   * runs the new code on whichever worker takes it (one already running keeps what it has).
   */
  private shareCodeChanges(from: WorkerHandle, paths: string[]): void {
    this.warmImages.invalidate();
    for (const other of this.live()) if (other !== from) other.worker?.postMessage({ type: 'invalidate-code', paths });
    this.options.codeChanged?.(paths);
  }

  /**
   * Asks every idle worker to give back its wasm memory pages that are all zeros (see zero-pages.ts);
   * for when the pool is quiet. A request a worker takes meanwhile ends its scan.
   */
  releaseIdleMemory(): void {
    for (const worker of this.live()) if (worker.phase === 'idle') this.releaseMemoryOf(worker);
  }

  /** Requests handed to workers since the pool started. */
  get requestsDispatched(): number {
    return this.dispatched;
  }

  /**
   * Whether V8 runs optimised code in an idle worker's instance (see wasm-code-cache/optimized-probe.ts):
   * the module is shared, so one worker's answer holds for the process. A string says why not known.
   */
  probeOptimizedCode(timeoutMs = 5_000): Promise<boolean | string> {
    const worker = this.live().find((w) => w.phase === 'idle' && w.worker);
    if (!worker) return Promise.resolve('no idle worker');
    const probeId = this.nextProbeId++;
    return new Promise((resolve) => {
      // In the background: a probe never keeps a closing process alive.
      const timer = this.clock.setTimeout(() => answer('no answer'), timeoutMs, true);
      const answer = (optimized: boolean | string) => {
        this.clock.clearTimeout(timer);
        this.optimizedCodeProbes.delete(probeId);
        resolve(optimized);
      };
      this.optimizedCodeProbes.set(probeId, { worker, answer });
      worker.worker!.postMessage({ type: 'probe-optimized-code', probeId });
    });
  }

  private releaseMemoryOf(worker: WorkerHandle): void {
    if (!this.memoryReleaseUnavailable) worker.worker?.postMessage({ type: 'release-memory' });
  }

  private memoryReleased(worker: WorkerHandle, { bytes, residentBytes, ms, unavailable }: Extract<FromWorker, { type: 'memory-released' }>): void {
    if (unavailable !== undefined) {
      if (!this.memoryReleaseUnavailable) this.options.log.info({ worker: worker.id, reason: unavailable }, 'workers cannot give back the zero pages of their wasm memory; not asked again');
      this.memoryReleaseUnavailable = true;
    }
    if (bytes === 0) return;
    this.options.log.debug({ worker: worker.id, bytes, residentBytes, ms }, 'worker gave back wasm memory pages that were all zeros');
    this.options.observer?.memoryReleased?.(bytes);
  }

  private async relayMail(worker: WorkerHandle, { mailId, args, message }: Extract<FromWorker, { type: 'mail' }>): Promise<void> {
    let sent = false;
    try {
      sent = (await this.options.mail?.(args, Buffer.from(message.buffer, message.byteOffset, message.byteLength), worker.id)) ?? false;
    } catch (error) {
      this.options.log.error({ worker: worker.id, err: error }, 'mail relay failed');
    }
    // The worker may have been ended meanwhile (request timeout): nobody is waiting then.
    if (worker.phase !== 'gone') worker.worker?.postMessage({ type: 'mail-result', mailId, sent });
  }

  private finish(worker: WorkerHandle, job: RunningJob, end: RunEnd): void {
    worker.memoryBytes = end.memoryBytes;
    if (end.opcache) {
      worker.opcache = end.opcache;
      worker.requests++; // the sample was a PHP run too, counted like warm-up runs
      this.sizeOpcache(worker, end.opcache);
    }
    if (end.errors.trim()) this.logPhpErrors(worker, end.errors);
    if (end.hitMemoryCeiling) this.options.log.warn({ worker: worker.id, memoryBytes: end.memoryBytes }, 'php script reached the memory ceiling (memory_limit cannot be raised past it)');
    worker.job = undefined;
    job.complete();
    // A warm-up job hands the worker back to warmUp(), which makes it idle when all are done.
    if (job.internal) return;
    if (worker.phase === 'retiring') {
      void this.kill(worker, undefined, worker.leaving!.reason);
      this.pump();
      return;
    }
    worker.lifecycle.moveTo('idle');
    // A worker that took traffic instead of a warm-up (visitorsWaitOnlyFor) measures from its first request.
    if (worker.baselineAfterFirstRequest) {
      worker.baselineAfterFirstRequest = false;
      worker.warmMemoryBytes = worker.memoryBytes;
      worker.becameWarm();
    }
    const limit = this.options.maxWorkerMemoryGrowth;
    const grew = !!limit && worker.memoryBytes - worker.warmMemoryBytes > limit;
    if (worker.resetDue) {
      worker.resetDue = false;
      // Wasm memory never shrinks: a worker that grew too far is replaced, as the memory rule would.
      if (!grew && !worker.leaving && this.resetInPlace(worker)) return;
      if (!worker.leaving) this.replaceWhenSuccessorReady(worker, grew ? 'memory' : 'recycled');
    }
    if (grew && !worker.leaving) this.recycle(worker, 'memory');
    this.onFree(worker);
  }

  /**
   * A worker whose opcache is nearly full is replaced by one with more (see opcache-size.ts); at the
   * ceiling, or at a size the user set, scripts that do not fit are compiled again at every request:
   * said once per worker, with the fix.
   */
  private sizeOpcache(worker: WorkerHandle, sample: OpcacheSample): void {
    const verdict = this.opcacheSizing.judge(sample, worker.opcacheMb);
    const detail = { worker: worker.id, usedBytes: sample.usedBytes, freeBytes: sample.freeBytes, cachedScripts: sample.cachedScripts };
    if (verdict.kind === 'replace') {
      if (verdict.grewFromMb !== undefined) this.options.log.info({ ...detail, fromMb: verdict.grewFromMb, toMb: this.opcacheSizing.nextWorkerMb }, 'opcache is nearly full: workers started from now on get more');
      if (!worker.leaving && !worker.selfCallOnly) this.recycle(worker, 'opcache');
    } else if (verdict.kind === 'full' && !worker.opcacheFullWarned) {
      worker.opcacheFullWarned = true;
      this.options.log.warn(detail, 'opcache is nearly full: scripts that do not fit are compiled at every request; raise opcache.memory_consumption (--ini)');
    }
  }

  private logPhpErrors(worker: WorkerHandle, errors: string): void {
    // One log entry per PHP message; a message's stack trace stays with it.
    for (const message of errors.split(/\n(?=PHP )/)) {
      if (message.trim()) this.options.log.warn({ worker: worker.id, php: message.trim() }, 'php');
    }
  }

  /** A worker became free (warm, or its request done): it leaves if asked to, else takes what waits. */
  private onFree(worker: WorkerHandle): void {
    if (worker.leaving && !worker.leaving.afterSuccessor) {
      void this.kill(worker, undefined, worker.leaving.reason);
      this.pump();
      return;
    }
    this.pump();
    if (worker.selfCallOnly && worker.phase === 'idle') {
      this.clock.clearTimeout(worker.idleTimer);
      worker.idleTimer = this.clock.setTimeout(() => { if (worker.phase === 'idle') void this.kill(worker, undefined, 'idle'); }, this.options.selfCallWorkerIdleMs ?? SELF_CALL_WORKER_IDLE_MS, true);
    }
    this.checkIdle();
  }

  /** Hands queued requests to idle workers, in order; a self-call may pass requests a self-call worker cannot take. */
  private pump(): void {
    for (;;) {
      let free: WorkerHandle | undefined;
      const next = this.queue.takeFirst((pending) => (free = this.freeWorkerFor(pending)) !== undefined);
      if (!next) break;
      this.dispatch(free!, next);
    }
    // A self-call worker that left (recycled, reloaded) may have been what a waiting self-call counted on.
    if (this.queue.selfCalls > 0) this.addSelfCallWorkerIfNeeded();
  }

  // ── Leaving ───────────────────────────────────────────────────────────────────────────────────

  /**
   * A pool worker is replaced before it leaves, or, for its request quota with a warm image there, reset
   * in place once its request ends; a self-call worker just leaves once free (another starts when needed).
   */
  private recycle(worker: WorkerHandle, reason: LeaveReason): void {
    if (worker.selfCallOnly) this.leaveWhenFree(worker, reason);
    else if (reason === 'recycled' && this.mayResetInPlace(worker)) worker.resetDue = true;
    else void this.replaceWhenSuccessorReady(worker, reason);
  }

  /** Its thread has resets left, and the image is one of its own settings (a worker whose opcache the pool has outgrown is replaced). */
  private mayResetInPlace(worker: WorkerHandle): boolean {
    if (worker.resets >= (this.options.resetsPerThread ?? 0) || worker.opcacheMb !== this.opcacheSizing.nextWorkerMb) return false;
    return this.warmImages.forBoot(imageKey(worker)) !== undefined;
  }

  /**
   * Recycling in place: the idle worker's PHP becomes the warm image again (see warm-image.ts,
   * resetToWarmImage), with no thread, runtime or PHP start-up to pay for. False when there is no
   * image for its settings any more (a code change, a reload): it is then replaced as usual.
   */
  private resetInPlace(worker: WorkerHandle): boolean {
    const image = this.warmImages.forBoot(imageKey(worker));
    if (!image || !worker.worker || this.closing) return false;
    worker.lifecycle.moveTo('resetting');
    worker.resetTimer = this.clock.setTimeout(() => {
      if (worker.phase !== 'resetting') return;
      this.options.log.error({ worker: worker.id, timeoutMs: this.options.requestTimeoutMs }, 'php worker did not finish its reset in time; replacing it');
      void this.stopAndReplace(worker, new PoolError(502, 'worker reset timed out'), 'recycled');
    }, this.options.requestTimeoutMs, true);
    worker.resetImagePath = image.path;
    worker.worker.postMessage({ type: 'reset-to-image', image });
    return true;
  }

  private resetDone(worker: WorkerHandle, answer: Extract<FromWorker, { type: 'reset' }>): void {
    if (worker.phase !== 'resetting') return; // ended meanwhile
    this.clock.clearTimeout(worker.resetTimer);
    worker.memoryBytes = answer.memoryBytes;
    if (answer.reset) {
      worker.resets++;
      worker.requests = 0;
      this.options.log.info({ worker: worker.id, ms: answer.ms, resets: worker.resets, memoryBytes: answer.memoryBytes, ...(answer.stale ? { stale: answer.stale } : {}) }, 'php worker recycled in place from the warm image');
      this.options.observer?.workerReset?.();
      if (answer.stale && isStale(answer.stale)) this.warmImages.keptIsStale(staleReason(answer.stale));
    } else if (answer.intact) {
      this.options.log.warn({ worker: worker.id, error: answer.error }, 'php worker could not be reset to the warm image; replacing it instead');
      if (!worker.leaving) void this.replaceWhenSuccessorReady(worker, 'recycled');
    } else {
      // Half-written: never serve from it. Images go only when the image is the likely cause (a file
      // cut short): a failure of this worker's own (its /tmp, say) would not repeat in another.
      if (answer.imageAtFault) this.warmImages.refused(worker.id, `a worker could not be reset to it: ${answer.error.split('\n')[0]}`, true, worker.resetImagePath ?? '');
      this.options.log.error({ worker: worker.id, error: answer.error, imageAtFault: answer.imageAtFault }, 'php worker failed while being reset to the warm image; replacing it');
      void this.stopAndReplace(worker, new PoolError(502, 'worker reset failed'), 'recycled');
      return;
    }
    worker.lifecycle.moveTo('idle');
    this.onFree(worker);
  }

  /** Leaves now if idle, after its request if busy, or as soon as it is warm if still starting. */
  private leaveWhenFree(worker: WorkerHandle, reason: LeaveReason): void {
    worker.leaving = { reason, afterSuccessor: false };
    if (worker.phase === 'idle') void this.kill(worker, undefined, reason);
    else if (worker.phase === 'busy') worker.lifecycle.moveTo('retiring');
  }

  /** Recycling: boot and warm the successor first, so capacity never drops. */
  private replaceWhenSuccessorReady(worker: WorkerHandle, reason: LeaveReason): Promise<void> {
    worker.leaving = { reason, afterSuccessor: true };
    this.options.log.info({ worker: worker.id, requests: worker.requests, reason, memoryBytes: worker.memoryBytes, warmMemoryBytes: worker.warmMemoryBytes }, 'recycling php worker');
    const successor = this.spawn().ready;
    successor.then(
      () => { if (worker.phase !== 'gone') this.leaveWhenFree(worker, reason); },
      () => {
        // The successor never came: keep capacity. If the old worker is gone meanwhile, replace it
        // (stopAndReplace left that to us); otherwise it serves on and tries again at its next request.
        if (this.closing) return;
        if (worker.phase === 'gone') return void this.spawnWithBackoff();
        worker.leaving = undefined;
      },
    );
    return successor;
  }

  /**
   * Workers that stay (not leaving) brought to `size`: new ones start (retried like crash
   * replacements); surplus ones, older settings and idle first, leave with no successor, each once
   * its request is done, and a crash of one is not replaced (stopAndReplace).
   */
  private resize(size: number): Array<Promise<void>> {
    const members = this.live().filter((w) => !w.leaving && !w.selfCallOnly);
    const added: Array<Promise<void>> = [];
    for (let n = members.length; n < size; n++) added.push(this.spawnWithBackoff().catch(() => undefined));
    const current = (w: WorkerHandle) => Number(w.generation === this.settingsGeneration);
    const surplus = members
      .sort((a, b) => current(a) - current(b) || Number(a.phase !== 'idle') - Number(b.phase !== 'idle'))
      .slice(0, Math.max(0, members.length - size));
    for (const worker of surplus) {
      this.options.log.info({ worker: worker.id, workers: size }, 'fewer workers: this one leaves once idle');
      this.leaveWhenFree(worker, 'reload');
    }
    return added;
  }

  private onWorkerGone(worker: WorkerHandle, error: Error): void {
    if (worker.phase === 'gone') return;
    this.options.log.error({ worker: worker.id, err: error }, 'php worker died; replacing it');
    void this.stopAndReplace(worker, new PoolError(502, 'PHP worker died while handling the request'), 'crashed');
  }

  /** Ends a worker now and starts another in its place (timeouts, crashes); its request gets `error`. */
  private async stopAndReplace(worker: WorkerHandle, error: PoolError, reason: WorkerExit): Promise<void> {
    // A worker that dies while booting or warming up is retried by whoever spawned it (spawnWithBackoff,
    // replaceWhenSuccessorReady, start): starting another here too grew the pool by one on every
    // failed warm-up. One already leaving is not replaced either: its successor is started, or the
    // pool is shrinking.
    const replace = worker.lifecycle.serving && !this.closing && !worker.leaving && !worker.selfCallOnly;
    const stopped = this.kill(worker, error, worker.lifecycle.serving ? reason : 'failed-to-start');
    // Not after it stopped: a worker caught in one long wasm instruction took seconds to end, and
    // requests queued behind a missing worker meanwhile.
    if (replace) void this.spawnWithBackoff();
    await stopped;
  }

  private async kill(worker: WorkerHandle, error = new PoolError(503, 'worker stopped', 1), reason: WorkerExit = this.closing ? 'closed' : 'failed-to-start'): Promise<void> {
    if (worker.phase === 'gone') return;
    this.options.observer?.workerExited(reason);
    worker.lifecycle.moveTo('gone');
    worker.becameWarm(); // nobody waits for it any more
    this.warmImages.workerGone(worker.id);
    this.clock.clearTimeout(worker.idleTimer);
    this.clock.clearTimeout(worker.resetTimer);
    this.workers.delete(worker);
    if (this.queue.selfCalls > 0) this.addSelfCallWorkerIfNeeded(); // a self-call may have counted on it
    const job = worker.job;
    worker.job = undefined;
    job?.detach();
    // Its locks are released only once it has really stopped: released earlier, a script still
    // writing could corrupt a database another worker now writes too.
    const thread = worker.worker;
    const stopped = (thread ? this.closeNativeCalls(worker).then(() => thread.terminate()) : Promise.resolve(0)).catch(() => 0).finally(() => {
      this.locks.releaseProcess(worker.id);
      this.checkIdle();
    });
    if (job) {
      // Usually it stops within milliseconds, and a client acting on the 504 then finds the database
      // unlocked. Inside one long wasm instruction (a memory copy of a gigabyte) it took seconds: the
      // answer does not wait for that, so the timeout holds on wall-clock time.
      let waited: Timer | undefined;
      await Promise.race([stopped, new Promise<void>((resolve) => { waited = this.clock.setTimeout(resolve, TERMINATE_WAIT_MS); })]);
      this.clock.clearTimeout(waited);
      job.fail(error);
    }
    await stopped;
  }

  /** Waits out a koffi call the worker is in (see native-call-gate.ts); one that hangs is said before the thread ends. */
  private async closeNativeCalls(worker: WorkerHandle): Promise<void> {
    if (await closeGate(worker.nativeCallGate, NATIVE_CALL_WAIT_MS)) return;
    this.options.log.warn({ worker: worker.id, waitedMs: NATIVE_CALL_WAIT_MS }, 'worker still inside a native call; ending it anyway (the process may abort)');
  }

  // ── Bookkeeping ───────────────────────────────────────────────────────────────────────────────

  private live(): WorkerHandle[] {
    return [...this.workers].filter((w) => w.phase !== 'gone');
  }

  private freeIndex(): number {
    const used = new Set([...this.workers].map((w) => w.index));
    let index = 0;
    while (used.has(index)) index++;
    return index;
  }

  private checkIdle(): void {
    if (!this.live().some((w) => w.lifecycle.running)) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private retryAfter(): number {
    return Math.max(1, Math.ceil(this.options.requestTimeoutMs / 1000 / 4));
  }
}
