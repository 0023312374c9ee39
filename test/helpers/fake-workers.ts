import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { WorkerPool, type PoolOptions, type PoolWorker } from '../../server/pool/pool.js';
import type { FromWorker, RunEnd, ToWorker } from '../../server/pool/messages.js';
import type { WorkerExit } from '../../server/pool/pool-types.js';
import type { PhpJob } from '../../server/cgi.js';
import { FakeClock } from './fake-clock.js';

/**
 * How a fake worker behaves: 'answer' replies to every run at once; 'hang' holds each run until the
 * test answers it (and takes its time to stop); 'fail-boot' reports a failed boot; 'slow-boot'
 * boots only when the test calls boot(); 'slow-boot-hang' does both.
 */
export type FakeBehaviour = 'answer' | 'hang' | 'fail-boot' | 'slow-boot' | 'slow-boot-hang';

/**
 * A stand-in for a php.wasm worker thread, driven by the test: the pool's policies (timeouts,
 * replacement, queueing) are checked without PHP, deterministically and fast. Real php.wasm is
 * covered by the HTTP tests.
 */
export class FakeWorker extends EventEmitter implements PoolWorker {
  readonly runs: Array<Extract<ToWorker, { type: 'run' }>> = [];
  terminated = false;
  /** What the next answers report as the instance's memory. */
  memoryBytes = 1;
  /** More of what the next answers report (an opcache sample, PHP's errors…). */
  answerWith: Partial<RunEnd> = {};
  /** Output flow cells shared with the pool (see output-flow.ts). */
  readonly flowCells: BigInt64Array;
  /** Resolve to let terminate() finish (a real worker may take seconds inside one wasm instruction). */
  finishTerminate!: () => void;
  private readonly stopped = new Promise<number>((resolve) => { this.finishTerminate = () => resolve(1); });

  constructor(public readonly processId: number, private readonly behaviour: FakeBehaviour, flowBuffer: SharedArrayBuffer) {
    super();
    this.flowCells = new BigInt64Array(flowBuffer);
    if (behaviour === 'fail-boot') setImmediate(() => this.reply({ type: 'boot-failed', error: 'fake boot failure' }));
    else if (!behaviour.startsWith('slow-boot')) setImmediate(() => this.boot());
  }

  boot(): void {
    this.reply({ type: 'ready', bootMs: 1, memoryBytes: this.memoryBytes });
  }

  /**
   * How it answers 'reset-to-image': reset; refused with the instance intact; broken half-way by the
   * image ('break') or by something of its own ('fail'); or not at all (until the test calls answerReset).
   */
  resetBehaviour: 'reset' | 'refuse' | 'break' | 'fail' | 'hang' = 'reset';
  /** The images it was asked to become again. */
  readonly resets: string[] = [];

  postMessage(message: ToWorker): void {
    // An image of nothing: enough for the pool to hold one and hand it out.
    if (message.type === 'take-warm-image') return void setImmediate(() => this.reply({ type: 'warm-image', path: message.path, meta: { memoryBytes: 0, bootedBytes: 0, runs: [], streams: [], globals: {}, tableLength: 0 } }));
    if (message.type === 'reset-to-image') {
      this.resets.push(message.image.path);
      if (this.resetBehaviour !== 'hang') setImmediate(() => this.answerReset());
      return;
    }
    if (message.type !== 'run') return;
    this.runs.push(message);
    if (!this.hangs) setImmediate(() => this.answer());
  }

  /** Answers the run it holds (the last one handed to it). */
  answer(end: Partial<RunEnd> = {}): void {
    const run = this.runs.at(-1)!;
    this.reply({ type: 'head', id: run.id, status: 200, headers: {}, data: new TextEncoder().encode(`worker ${this.processId}`), end: { exitCode: 0, errors: '', memoryBytes: this.memoryBytes, ...this.answerWith, ...end } });
  }

  answerReset(): void {
    const failed = (intact: boolean, imageAtFault: boolean) => ({ reset: false as const, error: `fake failure (intact ${intact}, image at fault ${imageAtFault})`, intact, imageAtFault });
    const outcome = this.resetBehaviour === 'refuse' ? failed(true, false)
      : this.resetBehaviour === 'break' ? failed(false, true)
      : this.resetBehaviour === 'fail' ? failed(false, false)
      : { reset: true as const };
    this.reply({ type: 'reset', memoryBytes: this.memoryBytes, ms: 1, ...outcome });
  }

  /** What the worker's OutputGate records after PHP waited `ms` for the client to make room (cell 3: BLOCKED_MS). */
  blockedOnClient(ms: number): void {
    Atomics.store(this.flowCells, 3, BigInt(ms));
  }

  /** The thread dies (as on a wasm trap outside PHP's control). */
  crash(): void {
    this.emit('exit', 1);
  }

  /** A hanging worker also takes its time to stop, until finishTerminate(); others stop at once. */
  terminate(): Promise<number> {
    this.terminated = true;
    if (!this.hangs) this.finishTerminate();
    return this.stopped;
  }

  private get hangs(): boolean {
    return this.behaviour === 'hang' || this.behaviour === 'slow-boot-hang';
  }

  private reply(message: FromWorker): void {
    this.emit('message', message);
  }
}

/** What fake workers boot with (nothing of it is used). */
export const FAKE_BOOT: PoolOptions['boot'] = { phpVersion: '8.3', docroot: '/nowhere', mounts: [], env: {}, phpIni: '', files: {}, allowNetwork: [], connectTo: {}, tmpSize: 1, memoryCeiling: null };

export const FAKE_JOB: PhpJob = { scriptPath: '/docroot/x.php', relativeUri: '/x.php', method: 'GET', protocol: 'HTTP/1.1', headers: {}, server: {} } as unknown as PhpJob;

export interface FakePool {
  pool: WorkerPool;
  /** The pool's time: it moves only with clock.advance(). */
  clock: FakeClock;
  workers: FakeWorker[];
  /** Each worker's phases in order, by process id: "booting→warming", … */
  phases: Map<number, string[]>;
  /** Why workers left, in order. */
  exits: WorkerExit[];
  /** The php.ini each worker booted with, by process id. */
  phpIni: Map<number, string>;
  /** The warm image each worker was given to start from, by process id (undefined: none). */
  bootImages: Map<number, string | undefined>;
}

/** A pool of fake workers; `behaviours` says how each started worker behaves, in order (then 'answer'). */
export function fakePool(overrides: Partial<Omit<PoolOptions, 'clock'>>, behaviours: FakeBehaviour[] = []): FakePool {
  const clock = new FakeClock();
  const workers: FakeWorker[] = [];
  const phases = new Map<number, string[]>();
  const exits: WorkerExit[] = [];
  const phpIni = new Map<number, string>();
  const bootImages = new Map<number, string | undefined>();
  const pool = new WorkerPool({
    size: 1,
    maxRequests: 1000,
    queueLimit: 10,
    queueTimeoutMs: 10_000,
    requestTimeoutMs: 10_000,
    boot: FAKE_BOOT,
    wasmModule: {} as WebAssembly.Module,
    warmup: [],
    log: pino({ level: 'silent' }),
    observer: {
      workerStarted: () => undefined,
      workerExited: (reason) => { exits.push(reason); },
      queueWait: () => undefined,
      workerPhase: (id, from, to) => { phases.set(id, [...(phases.get(id) ?? []), `${from}→${to}`]); },
    },
    startWorker: (boot) => {
      phpIni.set(boot.processId, boot.phpIni);
      bootImages.set(boot.processId, boot.warmImage?.path);
      const worker = new FakeWorker(boot.processId, behaviours[workers.length] ?? 'answer', boot.flowBuffer);
      workers.push(worker);
      return worker;
    },
    ...overrides,
    clock,
  });
  return { pool, clock, workers, phases, exits, phpIni, bootImages };
}

/** Closes a fake pool without a grace period, letting every fake thread stop. */
export async function closeFakePool({ pool, clock, workers }: FakePool): Promise<void> {
  for (const worker of workers) worker.finishTerminate();
  const closed = pool.close(0);
  await clock.advance(0);
  await closed;
}
