/**
 * Prometheus metrics (prom-client). Every label set is bounded: request kind and status class,
 * worker state, exit reason, and the pool's slot index (never the worker id, which grows with
 * every recycle).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { OpcacheSample } from './pool/opcache-sample.js';
import type { PoolObserver, WorkerExit, WorkerPool } from './pool/pool.js';
import { WORKER_PHASES } from './pool/worker-lifecycle.js';
import type { CompileOutcome } from './opcache-file-cache/site-compiler.js';

export type RequestKind = 'static' | 'php' | 'page-cache' | 'other';

const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class ServerMetrics implements PoolObserver {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'php_wasm_server_requests_total',
    help: 'HTTP requests answered, by kind (static, php, page-cache, other) and status class',
    labelNames: ['kind', 'status_class'] as const,
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'php_wasm_server_request_duration_seconds',
    help: 'Time from request to the end of the response, by kind',
    labelNames: ['kind'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly queueWaitSeconds = new Histogram({
    name: 'php_wasm_server_queue_wait_seconds',
    help: 'Time a PHP request waited for a free worker',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly workerStarts = new Counter({
    name: 'php_wasm_server_worker_starts_total',
    help: 'php.wasm workers booted and warmed',
    registers: [this.registry],
  });
  private readonly workerExits = new Counter({
    name: 'php_wasm_server_worker_exits_total',
    help: 'php.wasm workers that left, by reason (recycled, memory, opcache, reload, timeout, crashed, failed-to-start, closed)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly workerResets = new Counter({
    name: 'php_wasm_server_worker_resets_total',
    help: 'php.wasm workers recycled in place: their PHP made the warm memory image again (--worker-resets)',
    registers: [this.registry],
  });
  private readonly siteCompiles = new Counter({
    name: 'php_wasm_server_opcache_file_cache_compiles_total',
    help: "Compiles of the site into opcache's file cache (one per start and reload), by result (done, failed)",
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  private readonly memoryReleasedBytes = new Counter({
    name: 'php_wasm_server_worker_memory_released_bytes_total',
    help: 'Bytes of wasm memory pages that were all zeros, given back to the system by idle workers (a page PHP has only read since, still zeros, counts again)',
    registers: [this.registry],
  });
  private readonly staticCacheHits = new Counter({
    name: 'php_wasm_server_static_cache_hits_total',
    help: 'Static files served from memory',
    registers: [this.registry],
  });

  constructor(pool: () => WorkerPool | undefined) {
    collectDefaultMetrics({ register: this.registry });
    // Exits start at zero for every reason, so rate() works before the first one happens.
    for (const result of ['done', 'failed'] satisfies CompileOutcome[]) this.siteCompiles.inc({ result }, 0);
    for (const reason of ['recycled', 'memory', 'opcache', 'reload', 'timeout', 'crashed', 'failed-to-start', 'closed', 'idle'] satisfies WorkerExit[]) this.workerExits.inc({ reason }, 0);
    new Gauge({
      name: 'php_wasm_server_queue_length',
      help: 'PHP requests waiting for a worker',
      registers: [this.registry],
      collect() { this.set(pool()?.stats.queued ?? 0); },
    });
    new Gauge({
      name: 'php_wasm_server_workers',
      help: 'php.wasm workers by state',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        const counts: Record<string, number> = Object.fromEntries(WORKER_PHASES.filter((phase) => phase !== 'gone').map((phase) => [phase, 0]));
        for (const worker of pool()?.workerStates() ?? []) if (worker.state in counts) counts[worker.state]++;
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'php_wasm_server_worker_memory_bytes',
      help: 'Wasm linear memory of each worker after its last request, by pool slot',
      labelNames: ['slot'] as const,
      registers: [this.registry],
      collect() {
        this.reset(); // slots that left must not linger
        for (const worker of pool()?.workerStates() ?? []) if (worker.memoryBytes) this.set({ slot: String(worker.slot) }, worker.memoryBytes);
      },
    });
    const opcacheGauge = (name: string, help: string, value: (sample: OpcacheSample) => number) => new Gauge({
      name,
      help: `${help}, by pool slot (sampled by each worker at most every 15 s)`,
      labelNames: ['slot'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const worker of pool()?.workerStates() ?? []) if (worker.opcache) this.set({ slot: String(worker.slot) }, value(worker.opcache));
      },
    });
    opcacheGauge('php_wasm_server_opcache_used_bytes', 'Opcache shared memory in use', (o) => o.usedBytes);
    opcacheGauge('php_wasm_server_opcache_free_bytes', 'Opcache shared memory free', (o) => o.freeBytes);
    opcacheGauge('php_wasm_server_opcache_cached_scripts', 'Scripts in opcache', (o) => o.cachedScripts);
    opcacheGauge('php_wasm_server_opcache_hit_ratio', 'Opcache hits / (hits + misses) since the worker started', (o) => (o.hits + o.misses ? o.hits / (o.hits + o.misses) : 0));
  }

  observeRequest(kind: RequestKind, status: number, seconds: number): void {
    this.requests.inc({ kind, status_class: `${Math.floor(status / 100)}xx` });
    this.latency.observe({ kind }, seconds);
  }

  siteCompiled(outcome: CompileOutcome): void {
    this.siteCompiles.inc({ result: outcome });
  }

  staticCacheHit(): void {
    this.staticCacheHits.inc();
  }

  workerStarted(): void {
    this.workerStarts.inc();
  }

  workerExited(reason: WorkerExit): void {
    this.workerExits.inc({ reason });
  }

  workerReset(): void {
    this.workerResets.inc();
  }

  memoryReleased(bytes: number): void {
    this.memoryReleasedBytes.inc(bytes);
  }

  queueWait(seconds: number): void {
    this.queueWaitSeconds.observe(seconds);
  }
}
