/**
 * The soak (issue #12's memory goal): SOAK_REQUESTS of the mix in soak-mix.ts against a server
 * that recycles its workers, with its memory read idle and settled before and after.
 */
import { QUIET_CORES, type BenchArgs } from './args.js';
import { cpuBetween, cpuSnapshot, type CpuUse } from './cpu.js';
import { runLoad } from './load.js';
import { waitForQuiet } from './other-processes.js';
import { settledReading } from './settle.js';
import { SOAK_MAX_SECONDS, SOAK_REQUESTS, soakMix } from './soak-mix.js';
import { processesOf, type Target } from './target.js';

export interface SoakResult {
  /** Requests per worker (php-fpm child) before it is recycled. */
  maxRequests: number;
  /** Responses within the bounds, and the bounds. */
  requests: number;
  requestBound: number;
  secondsBound: number;
  seconds: number;
  reqPerSec: number;
  errors: number;
  non2xx: number;
  /** Workers recycled during the soak, when the server counts them. */
  recycles?: number;
  /** Whole process tree, idle and settled (settle.ts), before and after. */
  rssBeforeKb: number;
  rssAfterKb: number;
  /** False when a reading never settled within its time bound. */
  settled: boolean;
  cpu: CpuUse;
}

/** A warm-up of the same mix first, so "before" is a warm server (opcache full), as "after" is. */
const WARMUP_REQUESTS = 1000;

export async function soak(target: Target, all: Target[], maxRequests: number, args: BenchArgs, say: (line: string) => void): Promise<SoakResult> {
  const paths = soakMix();
  const pids = processesOf(target).map((c) => c.pid);
  const allPids = all.flatMap((t) => processesOf(t).map((c) => c.pid));
  const timeoutSeconds = 60;
  await runLoad(target.baseUrl, { connections: args.connections, durationSeconds: 60, maxRequests: WARMUP_REQUESTS, timeoutSeconds, paths });
  const before = await settledReading(() => target.rss().kb, undefined, target.atRest);
  if (args.quietWaitSeconds > 0) await waitForQuiet(allPids, args.quietWaitSeconds, QUIET_CORES);
  const recyclesBefore = await target.recycles?.();
  say(`  ${target.name.padEnd(6)} soak: ${SOAK_REQUESTS} requests (≤ ${SOAK_MAX_SECONDS} s), RSS before ${Math.round(before.value / 1024)} MB`);
  const cpuBefore = cpuSnapshot(pids, allPids);
  const load = await runLoad(target.baseUrl, { connections: args.connections, durationSeconds: SOAK_MAX_SECONDS, maxRequests: SOAK_REQUESTS, timeoutSeconds, paths });
  const cpu = cpuBetween(cpuBefore, cpuSnapshot(pids, allPids), load.requests);
  const recyclesAfter = await target.recycles?.();
  const after = await settledReading(() => target.rss().kb, undefined, target.atRest);
  const result: SoakResult = {
    maxRequests,
    requests: load.requests,
    requestBound: SOAK_REQUESTS,
    secondsBound: SOAK_MAX_SECONDS,
    seconds: load.seconds,
    reqPerSec: load.reqPerSec,
    errors: load.errors,
    non2xx: load.non2xx,
    recycles: recyclesBefore !== undefined && recyclesAfter !== undefined ? recyclesAfter - recyclesBefore : undefined,
    rssBeforeKb: before.value,
    rssAfterKb: after.value,
    settled: before.settled && after.settled,
    cpu,
  };
  say(
    `  ${target.name.padEnd(6)} soak: ${load.requests} requests in ${load.seconds.toFixed(0)} s (${load.reqPerSec.toFixed(0)} req/s), ` +
      `${load.errors} errors, ${load.non2xx} non-2xx, ${result.recycles ?? '?'} recycles; RSS ${Math.round(before.value / 1024)} → ${Math.round(after.value / 1024)} MB` +
      ` (settled in ${after.seconds.toFixed(0)} s); other processes ${cpu.otherCores.toFixed(2)} cores`,
  );
  return result;
}
