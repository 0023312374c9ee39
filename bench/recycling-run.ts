/**
 * The recycling scenarios (SQLite): `soak` (memory after 50,000 requests with recycles) and
 * `recycle` (the home page's p99 while workers recycle ÷ steady). Both servers are restarted so
 * their recycling is set and counted: ours with --max-requests and an admin port (its /metrics
 * count recycles), php-fpm with pm.max_requests (its log names each child that ends).
 */
import { QUIET_CORES, type BenchArgs } from './args.js';
import { freePort } from './loopback.js';
import type { NativeBinaries } from './native-packages.js';
import { startNative } from './native.js';
import { startOurs } from './ours.js';
import { recycleInterval, windowSeconds, type RecycleLatencyResult } from './recycle-figures.js';
import { measureWindow } from './recycle-latency.js';
import { RECYCLING_SCENARIOS } from './recycling-scenarios.js';
import type { BenchReport, ServerName } from './report.js';
import { SCENARIOS } from './scenarios.js';
import { soak } from './soak.js';
import type { Target } from './target.js';

/** Ours' default --max-requests (server/config/options.ts); php-fpm gets the same count. */
export const DEFAULT_MAX_REQUESTS = 1500;

export interface RecyclingRun {
  projectRoot: string;
  args: BenchArgs;
  binaries?: NativeBinaries;
  report: BenchReport;
  /** The servers running until now: stopped here. */
  running: Target[];
  say: (line: string) => void;
}

/** Returns the servers it leaves running. */
export async function runRecyclingPhase({ projectRoot, args, binaries, report: r, running, say }: RecyclingRun): Promise<Target[]> {
  const wanted = (id: string) => args.scenarios.includes(id);
  const home = SCENARIOS.find((s) => s.id === 'home')!;
  say('bench: restarting the servers with their recycling set and counted');
  await Promise.all(running.map((t) => t.stop()));
  const start = async (maxRequests: Partial<Record<ServerName, number>>): Promise<Target[]> => {
    const targets: Target[] = [];
    const ours = await startOurs({ projectRoot, dataDir: args.dataDir, workers: args.workers, wordpressVersion: args.wordpressVersion, startTimeoutMs: 120_000, maxRequests: maxRequests.ours, adminPort: await freePort() });
    targets.push(ours);
    if (binaries && maxRequests.native !== undefined) {
      targets.push(await startNative({ bin: binaries, dataDir: args.dataDir, sourceDir: ours.wordpressDir, children: args.workers, startTimeoutMs: 120_000, maxRequests: maxRequests.native }));
    }
    return targets;
  };

  let targets = await start({ ours: DEFAULT_MAX_REQUESTS, native: DEFAULT_MAX_REQUESTS });
  const latency: Partial<Record<ServerName, RecycleLatencyResult>> = {};
  if (wanted('recycle')) {
    say(`bench: ${RECYCLING_SCENARIOS[1].title}: steady (--max-requests ${DEFAULT_MAX_REQUESTS}, not reached in the ${windowSeconds(args)} s window)`);
    for (const t of targets) {
      const { m, recycles } = await measureWindow(home, t, targets, args, say);
      latency[t.name] = { steadyMaxRequests: DEFAULT_MAX_REQUESTS, steady: m, steadyRecycles: recycles };
    }
    r.recycleLatency = latency;
  }
  if (wanted('soak')) {
    say(`bench: ${RECYCLING_SCENARIOS[0].title}`);
    r.soak = {};
    for (const t of targets) {
      const result = await soak(t, targets, DEFAULT_MAX_REQUESTS, args, say);
      r.soak[t.name] = result;
      if (result.errors || result.non2xx) r.problems.push(`${t.name}: soak: ${result.errors} errors and ${result.non2xx} non-2xx responses`);
      if (result.cpu.otherCores >= QUIET_CORES) r.warnings.push(`${t.name}: soak: other processes kept ${result.cpu.otherCores.toFixed(2)} cores busy meanwhile`);
      if (!result.settled) r.warnings.push(`${t.name}: soak: its memory had not settled within the time given (readings kept changing by more than 1 %, or its workers were not at rest: one extra, starting or busy)`);
    }
  }
  if (wanted('recycle')) {
    const interval: Partial<Record<ServerName, number>> = {};
    for (const t of targets) {
      const steady = latency[t.name]?.steady.load;
      if (steady?.requests) interval[t.name] = recycleInterval(steady.reqPerSec, windowSeconds(args), t.workers);
    }
    await Promise.all(targets.map((t) => t.stop()));
    targets = await start(interval);
    say(`bench: ${RECYCLING_SCENARIOS[1].title}: recycling (ours --max-requests ${interval.ours ?? '?'}, php-fpm pm.max_requests ${interval.native ?? '?'})`);
    for (const t of targets) {
      const entry = latency[t.name];
      if (!entry || interval[t.name] === undefined) continue;
      const { m, recycles } = await measureWindow(home, t, targets, args, say);
      Object.assign(entry, { maxRequests: interval[t.name], recycling: m, recycles });
      if (recycles === 0) r.warnings.push(`${t.name}: no worker recycled during the recycling window (--max-requests ${interval[t.name]})`);
    }
    for (const [name, entry] of Object.entries(latency)) {
      if (entry.steadyRecycles) r.warnings.push(`${name}: ${entry.steadyRecycles} workers recycled during the steady window: it is not steady`);
      for (const [window, m] of [['steady', entry.steady], ['recycling', entry.recycling]] as const) {
        if (m?.cpu && m.cpu.otherCores >= QUIET_CORES) r.warnings.push(`${name}: home page, ${window} window: other processes kept ${m.cpu.otherCores.toFixed(2)} cores busy; the p99 is skewed`);
      }
    }
  }
  return targets;
}
