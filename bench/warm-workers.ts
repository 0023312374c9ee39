/**
 * Our server listens once its first worker is warm; the others boot and warm after it, and then it
 * compiles the site into opcache's file cache in a thread of its own. Memory read before all that
 * would undercount it, and the compile would take CPU from the first measurement, so the bench waits
 * for the admin /metrics to show every worker idle (none booting or warming) and one compile ended.
 */
import type { Child } from './children.js';
import { logTail } from './children.js';
import { request } from './loopback.js';

/** php_wasm_server_workers{state="…"} counts in Prometheus text. */
export function workersByState(metrics: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const match of metrics.matchAll(/^php_wasm_server_workers\{state="([a-z-]+)"\}\s+(\d+)/gm)) counts[match[1]] = Number(match[2]);
  return counts;
}

/** Compiles of the site that ended (done or failed) in Prometheus text. */
export function siteCompiles(metrics: string): number {
  let total = 0;
  for (const match of metrics.matchAll(/^php_wasm_server_opcache_file_cache_compiles_total\{result="[a-z]+"\}\s+(\d+)/gm)) total += Number(match[1]);
  return total;
}

/**
 * At rest: exactly the configured workers, all idle. A self-call worker (WordPress calling itself
 * while the pool was busy) lives a minute, and a successor boots beside the worker it replaces: a
 * memory reading then holds one php.wasm instance more than the server runs at rest.
 */
export function workersAtRest(counts: Record<string, number>, workers: number): boolean {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  return total === workers && (counts.idle ?? 0) === workers;
}

/** Whether the server behind `metricsUrl` is at rest (see workersAtRest); false when it does not answer. */
export async function serverAtRest(metricsUrl: string, workers: number): Promise<boolean> {
  try {
    const reply = await request(metricsUrl, {}, 10_000);
    return reply.status === 200 && workersAtRest(workersByState(reply.body), workers);
  } catch {
    return false;
  }
}

export async function waitForWarmWorkers(metricsUrl: string, workers: number, child: Child, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (child.exitCode !== undefined) throw new Error(`${child.name} exited (code ${child.exitCode}) before its workers were warm; its log:\n${logTail(child)}`);
    try {
      const reply = await request(metricsUrl, {}, 10_000);
      const counts = workersByState(reply.body);
      const compiles = siteCompiles(reply.body);
      last = `${JSON.stringify(counts)}, ${compiles} site compiles ended`;
      if (reply.status === 200 && (counts.idle ?? 0) >= workers && !counts.booting && !counts.warming && compiles > 0) return;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${metricsUrl}: ${workers} workers not all warm, or the site not compiled, within ${Math.round(timeoutMs / 1000)} s (last: ${last})`);
}
