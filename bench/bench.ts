/**
 * `npm run bench -- [--compare-native] [--duration S] [--json FILE] ...`
 *
 * Starts our server as a user would (and, with --compare-native, nginx + php-fpm on a copy of the
 * same WordPress), checks that each scenario returns what it claims, loads it over loopback with
 * autocannon and prints req/s, latency, errors and memory. Every child process is stopped on exit,
 * and the whole run has a time limit.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs, QUIET_CORES, USAGE, type BenchArgs } from './args.js';
import { killAllChildrenNow, logTail, stopAllChildren, usePidFile } from './children.js';
import { linesSince, markLogs, type LogMark } from './logs.js';
import { measure } from './measure.js';
import { ensureNativePackages } from './native-packages.js';
import { startNative } from './native.js';
import { startOurs } from './ours.js';
import { describeBusy } from './other-processes.js';
import { probe } from './probe.js';
import { formatReport, newReport, type BenchReport, type ServerReport } from './report.js';
import { SCENARIOS } from './scenarios.js';
import { alignPermalinks } from './site.js';
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
  const binaries = args.compareNative ? ensureNativePackages(say) : undefined;
  benchStarted = performance.now();
  mkdirSync(args.dataDir, { recursive: true });
  await usePidFile(join(args.dataDir, 'children.json'));
  if (args.fresh) {
    for (const entry of ['ours', 'native', 'state.json', 'logs']) rmSync(join(args.dataDir, entry), { recursive: true, force: true });
  }
  const limitSeconds = timeLimitSeconds(args);
  const limit = setTimeout(() => void abort(`the bench exceeded its time limit of ${limitSeconds} s`, 1), limitSeconds * 1000);
  limit.unref();

  const r = (report = newReport(args));
  const scenarios = SCENARIOS.filter((s) => args.scenarios.includes(s.id));
  const targets: Target[] = [];

  say(`bench: starting php-wasm-server (data in ${args.dataDir})`);
  const ours = await startOurs({ projectRoot, dataDir: args.dataDir, workers: args.workers, startTimeoutMs: 120_000 });
  targets.push(ours);
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

  await sleep(1000); // let start-up work settle before the idle reading
  const marks = new Map<Target, LogMark>();
  for (const t of targets) {
    const rss = t.rss();
    r.servers[t.name] = {
      name: t.name,
      label: t.label,
      baseUrl: t.baseUrl,
      startSeconds: t.startSeconds,
      notes: t.notes,
      probeBefore: await probe(t),
      rssIdleKb: rss.kb,
      processes: rss.processes,
      requestsSent: 1,
      logLines: [],
    };
    marks.set(t, markLogs(t.logFiles));
  }

  for (const scenario of scenarios) {
    say(`bench: ${scenario.title} (GET ${scenario.path})`);
    const entry: BenchReport['scenarios'][number] = { id: scenario.id, title: scenario.title, path: scenario.path, results: {} };
    r.scenarios.push(entry);
    for (const t of targets) {
      const dead = t.children.find((c) => c.exitCode !== undefined);
      const server = r.servers[t.name]!;
      if (dead) {
        entry.results[t.name] = { check: { ok: false, problem: `${dead.name} is not running`, status: 0, bytes: 0, ms: 0 }, skipped: `${dead.name} exited` };
        continue;
      }
      const m = await measure(scenario, t, targets, args, say);
      entry.results[t.name] = m;
      server.requestsSent += 1 + (m.warmup?.requests ?? 0) + (m.load?.sent ?? 0);
      if (!m.check.ok) r.problems.push(`${t.name}: ${scenario.title} (GET ${scenario.path}) is not what it should be: ${m.check.problem}; not measured`);
      const l = m.load;
      if (l && l.requests < 20) {
        r.warnings.push(`${t.name}: ${scenario.title}: only ${l.requests} responses completed within the ${args.durationSeconds} s window: req/s and percentiles are rough (use a longer --duration)`);
      }
      if (l && (l.errors || l.non2xx)) r.problems.push(`${t.name}: ${scenario.title}: ${l.errors} errors and ${l.non2xx} non-2xx responses under load`);
      if (m.cpu && m.cpu.otherCores >= QUIET_CORES) {
        const who = m.busyOthers?.length ? ` (busiest: ${describeBusy(m.busyOthers)})` : ' (processes that ended before the window did)';
        r.warnings.push(`${t.name}: ${scenario.title}: other processes kept ${m.cpu.otherCores.toFixed(2)} cores busy during the measurement${who}; the numbers are skewed`);
      }
      if (m.cpu && m.cpu.loadGeneratorCores >= 0.9) {
        r.warnings.push(`${t.name}: ${scenario.title}: the load generator (this process) kept ${m.cpu.loadGeneratorCores.toFixed(2)} cores busy: it may be the bottleneck, so the server can be faster than measured`);
      }
      const died = t.children.find((c) => c.exitCode !== undefined);
      if (died) r.problems.push(`${t.name}: ${died.name} exited (code ${died.exitCode}) during ${scenario.title}; log:\n${logTail(died)}`);
    }
    const ours = entry.results.ours?.load;
    const native = entry.results.native?.load;
    if (ours && native && ours.requests > 0 && native.requests > 0) entry.ratio = ours.reqPerSec / native.reqPerSec;
  }

  for (const t of targets) {
    const server = r.servers[t.name]!;
    if (!t.children.some((c) => c.exitCode !== undefined)) {
      server.rssAfterKb = t.rss().kb;
      server.probeAfter = await probe(t);
    }
    server.logLines = linesSince(marks.get(t)!);
    checkServer(server, r);
  }
  await finish();
  return r.problems.length ? 1 : 0;
}

/** Things worth flagging about a server as a whole. */
function checkServer(server: ServerReport, r: BenchReport): void {
  const p = server.probeAfter ?? server.probeBefore;
  if (p.error) r.problems.push(`${server.name}: PHP probe failed: ${p.error}`);
  else if (p.cachedScripts === false || !p.opcacheLoaded) r.warnings.push(`${server.name}: opcache is not active`);
}

/** Stops the servers, prints the report, writes --json. */
async function finish(): Promise<void> {
  if (finishing) return;
  finishing = true;
  say('bench: stopping servers');
  await stopAllChildren();
  if (!report) return;
  report.benchSeconds = (performance.now() - benchStarted) / 1000;
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
  const servers = args.compareNative ? 2 : 1;
  const startup = 300 + (args.compareNative ? 240 : 0);
  return Math.ceil(startup + args.scenarios.length * servers * perMeasurement + 120);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
