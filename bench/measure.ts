/** One scenario against one server: check the response, wait for a quiet machine, warm up, measure. */
import { QUIET_CORES, type BenchArgs } from './args.js';
import { cpuBetween, cpuSnapshot, type CpuSnapshot } from './cpu.js';
import { runLoad } from './load.js';
import { allProcessTicks, busiestBetween, waitForQuiet } from './other-processes.js';
import type { Measurement } from './report.js';
import { treePids } from './rss.js';
import { checkScenario, type Scenario } from './scenarios.js';
import { processesOf, type Target } from './target.js';

/** `beforeWindow` runs after the warm-up, just before the measured load. */
export async function measure(scenario: Scenario, target: Target, all: Target[], args: BenchArgs, say: (line: string) => void, beforeWindow?: () => Promise<void>): Promise<Measurement> {
  const check = await checkScenario(scenario, target);
  if (!check.ok) {
    say(`  ${target.name}: ${scenario.title}: check FAILED (${check.problem}); not measured`);
    return { check, skipped: `check failed: ${check.problem}` };
  }
  const url = target.baseUrl + scenario.path;
  const pids = processesOf(target).map((c) => c.pid);
  const allPids = all.flatMap((t) => processesOf(t).map((c) => c.pid));

  let quiet: Measurement['quiet'];
  if (args.quietWaitSeconds > 0) {
    const q = await waitForQuiet(allPids, args.quietWaitSeconds, QUIET_CORES);
    quiet = { waitedSeconds: q.waitedSeconds, otherCores: q.otherCores };
    if (q.otherCores >= QUIET_CORES) say(`  (machine still busy after ${q.waitedSeconds.toFixed(0)} s: ${q.otherCores.toFixed(2)} cores used by other processes; measuring anyway)`);
  }

  const timeoutSeconds = Math.max(10, args.durationSeconds * 2);
  let warmup: Measurement['warmup'];
  if (args.warmupSeconds > 0 && args.warmupRequests > 0) {
    const scale = target.warmupScale ?? 1;
    const w = await runLoad(url, { connections: args.connections, durationSeconds: args.warmupSeconds * scale, maxRequests: args.warmupRequests * scale, timeoutSeconds });
    warmup = { requests: w.sent, errors: w.errors, non2xx: w.non2xx };
  }

  await beforeWindow?.();
  const exclude = new Set([process.pid, ...treePids(allPids)]);
  const before = cpuSnapshot(pids, allPids);
  const ticksBefore = allProcessTicks();
  let after: CpuSnapshot | undefined;
  let ticksAfter: ReturnType<typeof allProcessTicks> | undefined;
  const load = await runLoad(url, {
    connections: args.connections,
    durationSeconds: args.durationSeconds,
    maxRequests: args.maxRequests,
    timeoutSeconds,
    atWindowEnd: () => {
      after = cpuSnapshot(pids, allPids);
      ticksAfter = allProcessTicks();
    },
  });
  after ??= cpuSnapshot(pids, allPids);
  const cpu = cpuBetween(before, after, load.requests);
  const busyOthers = busiestBetween(ticksBefore, ticksAfter ?? allProcessTicks(), (after.at - before.at) / 1000, exclude);
  say(
    `  ${target.name.padEnd(6)} ${scenario.title}: ${load.reqPerSec.toFixed(1)} req/s, p50 ${load.latencyMs.p50.toFixed(2)} ms, ` +
      `p99 ${load.latencyMs.p99.toFixed(2)} ms, ${load.errors} errors, ${load.non2xx} non-2xx; ` +
      `server CPU ${cpu.serverMsPerRequest.toFixed(2)} ms/request; cores busy: server ${cpu.serverCores.toFixed(2)}, ` +
      `load generator ${cpu.loadGeneratorCores.toFixed(2)}, other processes ${cpu.otherCores.toFixed(2)}`,
  );
  return { check, quiet, warmup, load, cpu, busyOthers };
}
