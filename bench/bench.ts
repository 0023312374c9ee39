/**
 * `npm run bench -- [--compare-native] [--db mariadb] [--duration S] [--json FILE] ...`
 *
 * Starts our server as a user would (and, with --compare-native, nginx + php-fpm on a copy of the
 * same WordPress), checks that each scenario returns what it claims, loads it over loopback with
 * autocannon and prints req/s, latency, errors and memory. With --db mariadb both use the bench's
 * own MariaDB, and ours is also measured as several processes behind nginx (mariadb-run.ts). Every
 * child process is stopped on exit, and the whole run has a time limit.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs, USAGE, type BenchArgs } from './args.js';
import { killAllChildrenNow, stopAllChildren, usePidFile } from './children.js';
import { evaluateGoals } from './goals.js';
import { runMariaDbBench } from './mariadb-run.js';
import { ensureNativePackages, MARIADB_PACKAGES, type NativeBinaries } from './native-packages.js';
import { startNative } from './native.js';
import { startOurs } from './ours.js';
import { runPageCachePhase } from './page-cache-run.js';
import { measurePhase } from './phase.js';
import { formatReport, newReport, type BenchReport } from './report.js';
import { runRecyclingPhase } from './recycling-run.js';
import { RECYCLING_SCENARIOS } from './recycling-scenarios.js';
import { SCENARIOS, type Scenario } from './scenarios.js';
import { SETTLE } from './settle.js';
import { SOAK_MAX_SECONDS } from './soak-mix.js';
import { alignPermalinks, recordWordPress } from './site.js';
import type { Target } from './target.js';

/** dist/bench/bench.js -> the project root */
const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const say = (line: string) => process.stderr.write(`${line}\n`);

let report: BenchReport | undefined;
let jsonFile: string | undefined;
let finishing = false;
let benchStarted = performance.now();

async function main(): Promise<number> {
  let args: BenchArgs;
  try {
    args = parseBenchArgs(process.argv.slice(2), projectRoot);
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  jsonFile = args.json;
  // Packages first (apt-get has its own time limits): the run's time limit starts after it.
  const binaries = args.compareNative ? ensureNativePackages(say, args.db === 'mariadb' ? MARIADB_PACKAGES : []) : undefined;
  benchStarted = performance.now();
  mkdirSync(args.dataDir, { recursive: true });
  await usePidFile(join(args.dataDir, 'children.json'));
  if (args.fresh) {
    for (const entry of ['ours', 'native', 'state.json', 'logs', 'ours-mariadb', 'native-mariadb', 'mariadb', 'balancer']) rmSync(join(args.dataDir, entry), { recursive: true, force: true });
  }
  const limitSeconds = timeLimitSeconds(args);
  const limit = setTimeout(() => void abort(`the bench exceeded its time limit of ${limitSeconds} s`, 1), limitSeconds * 1000);
  limit.unref();

  const r = (report = newReport(args));
  const scenarios = SCENARIOS.filter((s) => args.scenarios.includes(s.id));
  if (args.db === 'mariadb') await runMariaDbBench({ projectRoot, args, binaries: binaries!, report: r, scenarios, say });
  else await runSqliteBench(args, binaries, r, scenarios);
  await finish();
  return r.problems.length ? 1 : 0;
}

/**
 * Ours and, with --compare-native, nginx + php-fpm, each on its own SQLite site: the scenarios
 * without a page cache, then both restarted with theirs on for the page-cache scenario.
 */
async function runSqliteBench(args: BenchArgs, binaries: NativeBinaries | undefined, r: BenchReport, scenarios: Scenario[]): Promise<void> {
  const targets: Target[] = [];
  say(`bench: starting php-wasm-server (data in ${args.dataDir})`);
  const ours = await startOurs({ projectRoot, dataDir: args.dataDir, workers: args.workers, wordpressVersion: args.wordpressVersion, startTimeoutMs: 120_000 });
  targets.push(ours);
  recordWordPress(r, args.wordpressVersion, ours.wordpressDir);
  say(`bench: php-wasm-server ready at ${ours.baseUrl} in ${ours.startSeconds.toFixed(1)} s`);
  if (binaries) {
    say('bench: starting nginx + php-fpm');
    const native = await startNative({ bin: binaries, dataDir: args.dataDir, sourceDir: ours.wordpressDir, children: args.workers, startTimeoutMs: 120_000 });
    targets.push(native);
    say(`bench: nginx + php-fpm ready at ${native.baseUrl} in ${native.startSeconds.toFixed(1)} s`);
    const aligned = await alignPermalinks(ours, native);
    if (aligned) {
      native.notes.push(`permalink structure set from ${JSON.stringify(aligned.from)} (what its installer chose) to ours, ${JSON.stringify(aligned.to)}, so both serve the same pages`);
    }
  }
  await measurePhase(targets, scenarios.filter((s) => !s.pageCache), r, args, say);
  let running = targets;
  if (RECYCLING_SCENARIOS.some((s) => args.scenarios.includes(s.id))) running = await runRecyclingPhase({ projectRoot, args, binaries, report: r, running, say });
  const cached = scenarios.filter((s) => s.pageCache);
  if (cached.length) await runPageCachePhase({ projectRoot, args, binaries, report: r, scenarios: cached, running, say });
}

/** Stops the servers, prints the report, writes --json. */
async function finish(): Promise<void> {
  if (finishing) return;
  finishing = true;
  say('bench: stopping servers');
  await stopAllChildren();
  if (!report) return;
  report.benchSeconds = (performance.now() - benchStarted) / 1000;
  // The goals are about WordPress on SQLite, against native.
  if (report.servers.native && report.database.kind === 'sqlite') report.goals = evaluateGoals(report);
  process.stdout.write(`\n${formatReport(report)}\n`);
  if (jsonFile) {
    mkdirSync(dirname(jsonFile), { recursive: true });
    writeFileSync(jsonFile, JSON.stringify(report, null, 2) + '\n');
    say(`bench: results written to ${jsonFile}`);
  }
}

/** Ends the bench early (time limit, signal): stop children, print what was measured, exit. */
async function abort(reason: string, code: number): Promise<never> {
  say(`bench: ${reason}`);
  report?.problems.push(reason);
  const hardStop = setTimeout(() => {
    killAllChildrenNow();
    process.exit(code);
  }, 20_000);
  hardStop.unref();
  await finish().catch((error) => say(`bench: ${(error as Error)?.message ?? error}`));
  process.exit(code);
}

/** Generous upper bound for the whole run; past it the bench stops everything and exits 1. */
function timeLimitSeconds(args: BenchArgs): number {
  const perMeasurement = args.quietWaitSeconds + 2 + args.warmupSeconds + args.durationSeconds + 2 * Math.max(10, args.durationSeconds * 2) + 10;
  const replicas = args.db === 'mariadb' && args.replicas > 1;
  const servers = (args.compareNative ? 2 : 1) + (replicas ? 1 : 0);
  // --db mariadb: MariaDB, and the replicas' start (first run: each assembles its WordPress).
  // The page-cache scenario: both restarted once per round, each after a wait for a quiet machine.
  const restarts = SCENARIOS.some((s) => s.pageCache && args.scenarios.includes(s.id)) ? args.rounds * servers * (120 + args.quietWaitSeconds) : 0;
  const startup = 300 + (args.compareNative ? 240 : 0) + (args.db === 'mariadb' ? 120 : 0) + (replicas ? 300 : 0) + restarts;
  const replicaWarmup = replicas ? args.scenarios.length * (args.replicas - 1) * args.warmupSeconds : 0; // warmupScale
  // soak: its warm-up (≤ 60 s), its load and two memory readings per server; recycle: two windows
  // of twice --duration per server, and a restart for each.
  const soak = args.scenarios.includes('soak') ? servers * (60 + SOAK_MAX_SECONDS + (2 * SETTLE.maxMs) / 1000 + args.quietWaitSeconds) : 0;
  const recycle = args.scenarios.includes('recycle') ? servers * (120 + perMeasurement + args.durationSeconds) * 2 : 0;
  // Each listed scenario once per round, the cached page once; soak and recycle keep one share each as slack.
  const measurements = args.scenarios.reduce((n, id) => n + (SCENARIOS.some((s) => s.id === id && !s.pageCache) ? args.rounds : 1), 0);
  return Math.ceil(startup + measurements * servers * perMeasurement + replicaWarmup * args.rounds + soak + recycle + 120);
}

process.once('SIGINT', () => void abort('interrupted (SIGINT)', 130));
process.once('SIGTERM', () => void abort('terminated (SIGTERM)', 143));
process.on('exit', killAllChildrenNow);

main().then(
  (code) => process.exit(code),
  async (error) => {
    say(`bench: ${(error as Error)?.stack ?? error}`);
    await abort('failed', 1);
  },
);
