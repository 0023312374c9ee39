/**
 * How many workers were recycled for reaching their request limit: ours counts them in its admin
 * /metrics, php-fpm logs each child that ends that way ("exited with code 0"; children stopped by
 * a signal, as at shutdown, are logged differently).
 */
import { readFileSync } from 'node:fs';
import { request } from './loopback.js';

/**
 * Recycles in ours' Prometheus text: `recycled` exits (a new thread took over) plus resets in place
 * (the worker's PHP made the warm image again; absent in servers before --worker-resets).
 */
export function parseRecycled(metrics: string): number {
  const match = /^php_wasm_server_worker_exits_total\{[^}]*reason="recycled"[^}]*\}\s+(\d+)/m.exec(metrics);
  if (!match) throw new Error('no php_wasm_server_worker_exits_total{reason="recycled"} in /metrics');
  const resets = /^php_wasm_server_worker_resets_total\s+(\d+)/m.exec(metrics);
  return Number(match[1]) + Number(resets?.[1] ?? 0);
}

export async function recycledWorkers(metricsUrl: string): Promise<number> {
  const reply = await request(metricsUrl, {}, 10_000);
  if (reply.status !== 200) throw new Error(`${metricsUrl}: status ${reply.status}`);
  return parseRecycled(reply.body);
}

/** php-fpm children that ended normally (pm.max_requests reached) in this log text. */
export function countFpmRecycles(log: string): number {
  return log.match(/\] child \d+ exited with code 0 /g)?.length ?? 0;
}

/** The same, over the whole php-fpm log (a count that only grows while the log is kept). */
export function fpmRecycles(logFile: string): Promise<number> {
  try {
    return Promise.resolve(countFpmRecycles(readFileSync(logFile, 'utf8')));
  } catch {
    return Promise.resolve(0);
  }
}
