/**
 * One group of servers that run at the same time, measured one after another on every scenario:
 * each is probed and its memory read before and after, and what its logs gained is kept. The
 * bench runs one group (ours, native), then with --db mariadb a second one (the replicas), or for
 * the page-cache scenario the same two restarted with their caches on, after the first has
 * stopped; results of the same scenario go into one entry. Each scenario is measured in rounds
 * (--rounds, see rounds.ts); a server's median round is its result. A restarted server keeps its first
 * report (memory and probes describe it as the other scenarios ran it); notes and logs add up.
 */
import { QUIET_CORES, type BenchArgs } from './args.js';
import { logTail } from './children.js';
import { linesSince, markLogs, type LogMark } from './logs.js';
import { measure } from './measure.js';
import { describeBusy } from './other-processes.js';
import { probe } from './probe.js';
import { updateRatios, type BenchReport, type Measurement, type ScenarioReport, type ServerReport } from './report.js';
import { representative, roundOrder, roundRates } from './rounds.js';
import type { Scenario } from './scenarios.js';
import { settledReading } from './settle.js';
import { processesOf, type Target } from './target.js';

export async function measurePhase(targets: Target[], scenarios: Scenario[], r: BenchReport, args: BenchArgs, say: (line: string) => void): Promise<void> {
  await sleep(1000); // let start-up work settle before the idle reading
  const marks = new Map<Target, LogMark>();
  const restarted = new Set<Target>();
  for (const t of targets) {
    const known = r.servers[t.name];
    if (known) {
      restarted.add(t);
      known.notes.push(...t.notes.map((note) => `restarted for ${scenarios.map((s) => s.title).join(', ')}: ${note}`));
      known.firstPageSeconds ??= t.firstPageSeconds;
      known.firstPageOtherCores ??= t.firstPageOtherCores;
      known.firstPageRounds ??= t.firstPageRounds;
      marks.set(t, markLogs(t.logFiles));
      continue;
    }
    // Settled: memory a finished start-up step freed (ours' compiler thread) takes seconds to leave the RSS.
    const idle = await settledReading(() => t.rss().kb, undefined, t.atRest);
    const rss = { kb: idle.value, processes: t.rss().processes };
    if (!idle.settled) t.notes.push(`idle memory did not settle${idle.atRest ? '' : ' (its workers were not at rest: one extra, starting or busy)'} within ${idle.seconds.toFixed(0)} s; the last reading is shown`);
    r.servers[t.name] = {
      name: t.name,
      label: t.label,
      workers: t.workers,
      baseUrl: t.baseUrl,
      startSeconds: t.startSeconds,
      firstPageSeconds: t.firstPageSeconds,
      firstPageOtherCores: t.firstPageOtherCores,
      firstPageRounds: t.firstPageRounds,
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
    let entry = r.scenarios.find((e) => e.id === scenario.id);
    if (!entry) {
      entry = { id: scenario.id, title: scenario.title, path: scenario.path, results: {} } satisfies ScenarioReport;
      r.scenarios.push(entry);
    }
    const rounds = roundsFor(scenario, args);
    const taken = new Map<Target, Measurement[]>(targets.map((t) => [t, []]));
    for (let round = 0; round < rounds; round++) {
      const label = rounds > 1 ? ` (round ${round + 1} of ${rounds})` : '';
      if (rounds > 1) say(`  round ${round + 1} of ${rounds}`);
      for (const t of roundOrder(targets, round)) {
        const mine = taken.get(t)!;
        if (mine.some((m) => m.skipped)) continue; // a failed check or a dead server: once is enough
        const dead = processesOf(t).find((c) => c.exitCode !== undefined);
        if (dead) {
          mine.push({ check: { ok: false, problem: `${dead.name} is not running`, status: 0, bytes: 0, ms: 0 }, skipped: `${dead.name} exited` });
          continue;
        }
        const m = await measure(scenario, t, targets, args, say);
        mine.push(m);
        r.servers[t.name]!.requestsSent += 1 + (m.warmup?.requests ?? 0) + (m.load?.sent ?? 0);
        noteMeasurement(r, t, scenario, m, args, label);
      }
    }
    for (const t of targets) {
      const mine = taken.get(t)!;
      const chosen = representative(mine);
      if (!chosen) continue;
      entry.results[t.name] = chosen;
      if (rounds > 1) (entry.rounds ??= {})[t.name] = roundRates(mine);
    }
    updateRatios(entry);
  }

  for (const t of targets) {
    const server = r.servers[t.name]!;
    if (!restarted.has(t) && !processesOf(t).some((c) => c.exitCode !== undefined)) {
      server.rssAfterKb = t.rss().kb;
      server.probeAfter = await probe(t);
    }
    server.logLines.push(...linesSince(marks.get(t)!));
    if (!restarted.has(t)) checkServer(server, r);
  }
}

/** Problems and warnings one measurement gives (each round's own: a busy spell in any of them is worth knowing). */
function noteMeasurement(r: BenchReport, t: Target, scenario: Scenario, m: Measurement, args: BenchArgs, label: string): void {
  if (!m.check.ok) r.problems.push(`${t.name}: ${scenario.title} (GET ${scenario.path}) is not what it should be: ${m.check.problem}; not measured`);
  const l = m.load;
  if (l && l.requests < 20) {
    r.warnings.push(`${t.name}: ${scenario.title}${label}: only ${l.requests} responses completed within the ${args.durationSeconds} s window: req/s and percentiles are rough (use a longer --duration)`);
  }
  if (l && (l.errors || l.non2xx)) {
    // Said here with what they were: the report's error details show only the round that stands for the server.
    const what = [...Object.entries(l.statusCodes).filter(([code]) => !code.startsWith('2')).map(([code, n]) => `${n}× status ${code}`), ...Object.entries(l.errorMessages).map(([message, n]) => `${n}× ${message}`)];
    r.problems.push(`${t.name}: ${scenario.title}${label}: ${l.errors} errors and ${l.non2xx} non-2xx responses under load${what.length ? ` (${what.join(', ')})` : ''}`);
  }
  if (m.cpu && m.cpu.otherCores >= QUIET_CORES) {
    const who = m.busyOthers?.length ? ` (busiest: ${describeBusy(m.busyOthers)})` : ' (processes that ended before the window did)';
    r.warnings.push(`${t.name}: ${scenario.title}${label}: other processes kept ${m.cpu.otherCores.toFixed(2)} cores busy during the measurement${who}; the numbers are skewed`);
  }
  if (m.cpu && m.cpu.loadGeneratorCores >= 0.9) {
    r.warnings.push(`${t.name}: ${scenario.title}${label}: the load generator (this process) kept ${m.cpu.loadGeneratorCores.toFixed(2)} cores busy: it may be the bottleneck, so the server can be faster than measured`);
  }
  const died = processesOf(t).find((c) => c.exitCode !== undefined);
  if (died) r.problems.push(`${t.name}: ${died.name} exited (code ${died.exitCode}) during ${scenario.title}${label}; log:\n${logTail(died)}`);
}

/** The cached page is a feature's figure, measured once; the rest in --rounds (see rounds.ts). */
function roundsFor(scenario: Scenario, args: BenchArgs): number {
  return scenario.pageCache ? 1 : args.rounds;
}

/** Things worth flagging about a server as a whole. */
function checkServer(server: ServerReport, r: BenchReport): void {
  const p = server.probeAfter ?? server.probeBefore;
  if (p.error) r.problems.push(`${server.name}: PHP probe failed: ${p.error}`);
  else if (p.cachedScripts === false || !p.opcacheLoaded) r.warnings.push(`${server.name}: opcache is not active`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
