/**
 * The page-cache scenario (SQLite): the servers of the first phase stop and start again with their
 * page caches on — ours with --page-cache, native with nginx's fastcgi_cache set up the same way —
 * so the other scenarios stay uncached on both sides. Each restart is also the cold start the goals
 * ask about: spawn to first 200 home page on a prepared site folder, one server starting at a time
 * on a machine as quiet as the bench can wait for. Both are started --rounds times (the order
 * alternating), and each one's median start is its figure.
 */
import { QUIET_CORES, type BenchArgs } from './args.js';
import { benchCpuSeconds, machineBusySeconds, treeCpuSeconds } from './cpu.js';
import type { NativeBinaries } from './native-packages.js';
import { startNative } from './native.js';
import { waitForQuiet } from './other-processes.js';
import { startOurs } from './ours.js';
import { measurePhase } from './phase.js';
import type { BenchReport } from './report.js';
import { startInRounds } from './rounds.js';
import type { Scenario } from './scenarios.js';
import { processesOf, type Target } from './target.js';

export interface PageCacheRun {
  projectRoot: string;
  args: BenchArgs;
  binaries?: NativeBinaries;
  report: BenchReport;
  /** The page-cache scenarios. */
  scenarios: Scenario[];
  /** The first phase's servers, stopped here. */
  running: Target[];
  say: (line: string) => void;
}

export async function runPageCachePhase({ projectRoot, args, binaries, report: r, scenarios, running, say }: PageCacheRun): Promise<void> {
  say('bench: stopping the servers, to start them again with their page caches on');
  await Promise.all(running.map((t) => t.stop()));
  // Native copies ours' WordPress; in a round where it starts first, the first phase's ours names the folder.
  const oursDir = running.find((t) => t.name === 'ours')?.wordpressDir;
  const starters: Record<'ours' | 'native', (() => Promise<Target>) | undefined> = {
    ours: () => startOurs({ projectRoot, dataDir: args.dataDir, workers: args.workers, wordpressVersion: args.wordpressVersion, startTimeoutMs: 120_000, pageCache: true, timeFirstPage: true }),
    native: binaries && oursDir
      ? () => startNative({ bin: binaries, dataDir: args.dataDir, sourceDir: oursDir, children: args.workers, startTimeoutMs: 120_000, pageCache: true, timeFirstPage: true })
      : undefined,
  };
  const names = (['ours', 'native'] as const).filter((name) => starters[name]);
  const targets = await startInRounds(names, args.rounds, (name, others) => timedStart(name, starters[name]!, others, args, r, say));
  await measurePhase(targets, scenarios, r, args, say);
}

/**
 * A start is a timing too: wait for other processes to calm down first, and afterwards read how many
 * cores they used while it ran (the bench, the new server and those already running excluded).
 */
async function timedStart(name: string, begin: () => Promise<Target>, running: Target[], args: BenchArgs, r: BenchReport, say: (line: string) => void): Promise<Target> {
  const runningPids = running.flatMap((t) => processesOf(t).map((c) => c.pid));
  if (args.quietWaitSeconds > 0) await waitForQuiet(runningPids, args.quietWaitSeconds, QUIET_CORES);
  const at = performance.now(), machine = machineBusySeconds(), bench = benchCpuSeconds(), others = treeCpuSeconds(runningPids);
  const target = await begin();
  const seconds = (performance.now() - at) / 1000;
  const own = treeCpuSeconds(processesOf(target).map((c) => c.pid));
  const used = machineBusySeconds() - machine - (benchCpuSeconds() - bench) - (treeCpuSeconds(runningPids) - others) - own;
  target.firstPageOtherCores = Math.max(0, used) / seconds;
  say(`bench: ${target.label} (page cache on): first home page ${target.firstPageSeconds?.toFixed(2) ?? '?'} s after spawn; other processes ${target.firstPageOtherCores.toFixed(2)} cores meanwhile`);
  if (target.firstPageOtherCores >= QUIET_CORES) {
    r.warnings.push(`${name}: other processes kept ${target.firstPageOtherCores.toFixed(2)} cores busy while it started: its first-page time is skewed`);
  }
  return target;
}
