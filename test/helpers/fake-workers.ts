import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { WorkerPool, type PoolOptions, type PoolWorker } from '../../server/pool/pool.js';
import type { FromWorker, ToWorker } from '../../server/pool/messages.js';
import type { PhpJob } from '../../server/cgi.js';

/**
 * A stand-in for a php.wasm worker thread, driven by the test: the pool's policies (timeouts,
 * replacement, queueing) are checked without PHP, deterministically and fast. Real php.wasm is
 * covered by the HTTP tests.
 */
export class FakeWorker extends EventEmitter implements PoolWorker {
  readonly runs: Array<Extract<ToWorker, { type: 'run' }>> = [];
  terminated = false;
  /** Resolve to let terminate() finish (a real worker may take seconds inside one wasm instruction). */
  finishTerminate!: () => void;
  private readonly stopped = new Promise<number>((resolve) => { this.finishTerminate = () => resolve(1); });

  constructor(public readonly processId: number, private readonly behaviour: 'answer' | 'hang') {
    super();
    setImmediate(() => this.reply({ type: 'ready', bootMs: 1, memoryBytes: 1 }));
  }

  postMessage(message: ToWorker): void {
    if (message.type !== 'run') return;
    this.runs.push(message);
    if (this.behaviour === 'answer') {
      setImmediate(() => this.reply({ type: 'head', id: message.id, status: 200, headers: {}, data: new TextEncoder().encode(`worker ${this.processId}`), end: { exitCode: 0, errors: '', memoryBytes: 1 } }));
    }
  }

  /** A hanging worker also takes its time to stop, until finishTerminate(); others stop at once. */
  terminate(): Promise<number> {
    this.terminated = true;
    if (this.behaviour !== 'hang') this.finishTerminate();
    return this.stopped;
  }

  private reply(message: FromWorker): void {
    this.emit('message', message);
  }
}

export const FAKE_JOB: PhpJob = { scriptPath: '/docroot/x.php', relativeUri: '/x.php', method: 'GET', protocol: 'HTTP/1.1', headers: {}, server: {} } as unknown as PhpJob;

/** A pool of fake workers; `behaviours` says how each started worker behaves, in order (then 'answer'). */
export function fakePool(overrides: Partial<PoolOptions>, behaviours: Array<'answer' | 'hang'> = []): { pool: WorkerPool; workers: FakeWorker[] } {
  const workers: FakeWorker[] = [];
  const pool = new WorkerPool({
    size: 1,
    maxRequests: 1000,
    queueLimit: 10,
    queueTimeoutMs: 10_000,
    requestTimeoutMs: 10_000,
    boot: { phpVersion: '8.3', docroot: '/nowhere', mounts: [], env: {}, phpIni: '', files: {}, allowNetwork: [], connectTo: {}, tmpSize: 1, memoryCeiling: null },
    wasmModule: {} as WebAssembly.Module,
    warmup: [],
    log: pino({ level: 'silent' }),
    startWorker: (boot) => {
      const worker = new FakeWorker(boot.processId, behaviours[workers.length] ?? 'answer');
      workers.push(worker);
      return worker;
    },
    ...overrides,
  });
  return { pool, workers };
}
