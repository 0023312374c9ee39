/**
 * The host file-system calls of each PHP request, from the worker that ran it to the server's log
 * (opt-in: PHP_WASM_SERVER_COUNT_HOST_FS=1). A BroadcastChannel of the server's own name carries
 * them, so the pool's message protocol stays as it is and nothing runs when counting is off.
 */
import { randomUUID } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { PhpJob } from '../cgi.js';
import { countHostFsCalls, totalCalls, type HostFsCalls } from '../php-wasm/host-fs-calls.js';

export const COUNT_HOST_FS_ENV = 'PHP_WASM_SERVER_COUNT_HOST_FS';

export interface HostFsCallsReport {
  worker: number;
  method: string;
  uri: string;
  /** All calls of the request; `calls` has them by kind. */
  total: number;
  calls: HostFsCalls;
}

/** Main thread: a channel whose reports become one log line per request; undefined when counting is off. */
export function logHostFsCalls(log: Logger, env: Record<string, string | undefined> = process.env): { channel: string; close(): void } | undefined {
  if (!env[COUNT_HOST_FS_ENV] || env[COUNT_HOST_FS_ENV] === '0') return undefined;
  const name = `php-wasm-server:host-fs-calls:${randomUUID()}`;
  const channel = new BroadcastChannel(name);
  channel.onmessage = (event) => {
    const report = (event as { data: HostFsCallsReport }).data;
    log.info({ hostFs: report }, 'host fs calls');
  };
  return { channel: name, close: () => channel.close() };
}

/** Worker thread: counts from begin() to end() of each request and reports it on the channel. */
export function hostFsCallsReporter(channelName: string, worker: number): { begin(): void; end(job: PhpJob): void } {
  const counter = countHostFsCalls();
  const channel = new BroadcastChannel(channelName);
  channel.unref(); // never what keeps a worker alive
  return {
    begin: () => void counter.take(),
    end(job) {
      const calls = counter.take();
      const report: HostFsCallsReport = { worker, method: job.method, uri: job.relativeUri, total: totalCalls(calls), calls };
      channel.postMessage(report);
    },
  };
}
