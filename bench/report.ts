/** The bench's results: the data kept for --json, and the tables printed from it. */
import { cpus, totalmem } from 'node:os';
import { QUIET_CORES, type BenchArgs } from './args.js';
import type { CpuUse } from './cpu.js';
import { formatGoals, type Goal } from './goals.js';
import type { LoadResult } from './load.js';
import type { BusyProcess } from './other-processes.js';
import { describeOpcache, type ProbeResult } from './probe.js';
import type { RecycleLatencyResult } from './recycle-figures.js';
import { formatRecycling } from './report-recycling.js';
import { formatReplicaSummary } from './report-replicas.js';
import type { SoakResult } from './soak.js';
import { mb } from './rss.js';
import { fmtInt, fmtMs, fmtRate, table } from './table.js';
import type { CheckResult } from './scenarios.js';

/** ours: one process of our server; replicas: several behind nginx (--db mariadb). */
export type ServerName = 'ours' | 'native' | 'replicas';

export interface ServerReport {
  name: ServerName;
  label: string;
  /** PHP workers (php-fpm children) in all its processes. */
  workers: number;
  baseUrl: string;
  startSeconds: number;
  /** Seconds from spawn to the first 200 home page, timed on the restart for the page-cache scenario. */
  firstPageSeconds?: number;
  /** Cores other processes used meanwhile (≥ QUIET_CORES: skewed). */
  firstPageOtherCores?: number;
  /** Every timed start's first page, in the order started (the figure above is their median). */
  firstPageRounds?: number[];
  notes: string[];
  probeBefore: ProbeResult;
  probeAfter?: ProbeResult;
  rssIdleKb: number;
  rssAfterKb?: number;
  processes: number;
  /** Requests the bench sent it (checks, warm-ups, measurements). */
  requestsSent: number;
  /** Warning/error lines its logs gained during the run. */
  logLines: string[];
}

export interface Measurement {
  check: CheckResult;
  /** Waiting for other processes to calm down before the measurement. */
  quiet?: { waitedSeconds: number; otherCores: number };
  warmup?: { requests: number; errors: number; non2xx: number };
  load?: LoadResult;
  /** CPU over the measurement window. */
  cpu?: CpuUse;
  /** The busiest other processes during the measurement window. */
  busyOthers?: BusyProcess[];
  /** Why no load ran (failed check). */
  skipped?: string;
}

export interface ScenarioReport {
  id: string;
  title: string;
  path: string;
  results: Partial<Record<ServerName, Measurement>>;
  /** Each server's req/s in every round, in the order measured (with more than one round). */
  rounds?: Partial<Record<ServerName, Array<number | null>>>;
  /** ours req/s ÷ native req/s (each server's median round) */
  ratio?: number;
  /** replicas req/s ÷ ours req/s (N processes ÷ 1, same workers each) */
  replicaRatio?: number;
}

export interface BenchReport {
  startedAt: string;
  benchSeconds?: number;
  machine: { cpu: string; cores: number; memoryGb: number; node: string; platform: string };
  settings: {
    connections: number;
    durationSeconds: number;
    /** Measurements per scenario and server (see rounds.ts). */
    rounds: number;
    warmupSeconds: number;
    warmupRequests: number;
    maxRequests: number;
    workers: number;
    /** Processes of ours behind nginx (--db mariadb), measured after 1. */
    replicas?: number;
    loadGenerator: string;
  };
  /** The database both sites use: "SQLite" (a file per site), or the bench's MariaDB. */
  database: { kind: 'sqlite' | 'mariadb'; label: string; notes: string[]; logLines: string[] };
  /** What the bench was asked for (--wordpress-version), and the version our site's tree holds once started. */
  wordpress: { asked: string; version?: string };
  servers: Partial<Record<ServerName, ServerReport>>;
  scenarios: ScenarioReport[];
  /** Failures: a check failed, errors under load, a server died (the bench exits 1). */
  problems: string[];
  /** Things that make numbers less trustworthy or are worth a look (a busy machine, opcache off). */
  warnings: string[];
  /** Issue #12's goals, judged at the end of a --compare-native run on SQLite (goals.ts). */
  goals?: Goal[];
  /** The recycling scenarios (recycling-run.ts), when run. */
  soak?: Partial<Record<ServerName, SoakResult>>;
  recycleLatency?: Partial<Record<ServerName, RecycleLatencyResult>>;
}

export function newReport(args: BenchArgs): BenchReport {
  return {
    startedAt: new Date().toISOString(),
    machine: {
      cpu: cpus()[0]?.model ?? '?',
      cores: cpus().length,
      memoryGb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
    },
    settings: {
      connections: args.connections,
      durationSeconds: args.durationSeconds,
      rounds: args.rounds,
      warmupSeconds: args.warmupSeconds,
      warmupRequests: args.warmupRequests,
      maxRequests: args.maxRequests,
      workers: args.workers,
      replicas: args.db === 'mariadb' && args.replicas > 1 ? args.replicas : undefined,
      loadGenerator: 'autocannon 9 (in the bench process, same machine), HTTP/1.1 keep-alive, loopback',
    },
    wordpress: { asked: args.wordpressVersion },
    database: { kind: args.db, label: args.db === 'sqlite' ? 'SQLite (a file per site, the SQLite Database Integration drop-in)' : 'MariaDB', notes: [], logLines: [] },
    servers: {},
    scenarios: [],
    problems: [],
    warnings: [],
  };
}

const SERVERS: ServerName[] = ['ours', 'native', 'replicas'];

/** The name a server has in the tables: with replicas, "ours ×1" and "ours ×3". */
export function serverTitle(r: BenchReport, name: ServerName): string {
  if (!r.servers.replicas) return name;
  return name === 'ours' ? 'ours ×1' : name === 'replicas' ? `ours ×${r.settings.replicas}` : name;
}

/** Fills in the scenario's ratios from what has been measured so far. */
export function updateRatios(sc: ScenarioReport): void {
  const rate = (name: ServerName) => {
    const l = sc.results[name]?.load;
    return l && l.requests > 0 ? l.reqPerSec : undefined;
  };
  const ours = rate('ours'), native = rate('native'), replicas = rate('replicas');
  if (ours && native) sc.ratio = ours / native;
  if (ours && replicas) sc.replicaRatio = replicas / ours;
}

/** Each server's req/s in every round, so a reader sees how far the windows spread. */
export function formatRounds(r: BenchReport): string[] {
  const lines = r.scenarios
    .filter((sc) => sc.rounds)
    .map((sc) => {
      const servers = SERVERS.filter((name) => sc.rounds![name]).map((name) => `${serverTitle(r, name)} ${sc.rounds![name]!.map((rate) => (rate === null ? '—' : fmtRate(rate))).join(' / ')}`);
      return `    ${sc.title}: ${servers.join('; ')}`;
    });
  return lines.length ? ['  req/s in each round, in the order measured (the row above is each server\'s median):', ...lines] : [];
}

export function formatReport(r: BenchReport): string {
  const out: string[] = [];
  const s = r.settings;
  out.push(`Machine: ${r.machine.cores} × ${r.machine.cpu}, ${r.machine.memoryGb} GB, Node ${r.machine.node}, ${r.machine.platform}`);
  out.push(`Load: ${s.connections} keep-alive connections, ${s.durationSeconds} s per measurement (≤ ${fmtInt(s.maxRequests)} requests), ` +
    `after a warm-up of ${s.warmupSeconds} s or ${s.warmupRequests} requests; ${s.loadGenerator}`);
  if (s.rounds > 1) out.push(`Rounds: each scenario ${s.rounds} times per server, the servers alternating; a server's row is its median round`);
  out.push(`WordPress: ${r.wordpress.version ?? '?'} (--wordpress-version ${r.wordpress.asked})`);
  out.push(`Database: ${r.database.label}`);
  for (const note of r.database.notes) out.push(`          note: ${note}`);
  out.push('');
  out.push('Servers:');
  for (const name of SERVERS) {
    const sv = r.servers[name];
    if (!sv) continue;
    const p = sv.probeAfter ?? sv.probeBefore;
    out.push(`  ${serverTitle(r, name).padEnd(7)} ${sv.label} at ${sv.baseUrl}, ready in ${sv.startSeconds.toFixed(1)} s`);
    if (sv.firstPageSeconds !== undefined) {
      const others = sv.firstPageOtherCores !== undefined ? `; other processes ${sv.firstPageOtherCores.toFixed(2)} cores meanwhile` : '';
      const rounds = sv.firstPageRounds && sv.firstPageRounds.length > 1 ? `; median of ${sv.firstPageRounds.length} starts: ${sv.firstPageRounds.map((s) => s.toFixed(2)).join(' / ')} s` : '';
      out.push(`         first home page ${sv.firstPageSeconds.toFixed(2)} s after spawn (restarted on the prepared site${others}${rounds})`);
    }
    out.push(`         PHP ${p.php ?? '?'} (${p.sapi ?? '?'}${sv.probeBefore.xPoweredBy ? `, X-Powered-By: ${sv.probeBefore.xPoweredBy}` : ''})`);
    out.push(`         opcache before load: ${describeOpcache(sv.probeBefore)}`);
    if (sv.probeAfter) out.push(`         opcache after load:  ${describeOpcache(sv.probeAfter)}`);
    for (const note of sv.notes) out.push(`         note: ${note}`);
  }
  out.push('');
  out.push('What each scenario returned before it was measured (one request, checked):');
  for (const sc of r.scenarios) {
    for (const name of SERVERS) {
      const m = sc.results[name];
      if (!m) continue;
      const c = m.check;
      out.push(`  ${sc.title.padEnd(30)} ${serverTitle(r, name).padEnd(7)} GET ${sc.path}: ${c.status} ${fmtInt(c.bytes)} bytes in ${fmtMs(c.ms)} ms — ${c.ok ? 'ok' : `FAILED: ${c.problem}`}`);
    }
    const a = sc.results.ours?.check.normalizedBytes;
    const b = sc.results.native?.check.normalizedBytes;
    if (a !== undefined && b !== undefined && a !== b) {
      out.push(`  ${''.padEnd(30)} (with each server's host:port blanked out the two responses differ by ${fmtInt(Math.abs(a - b))} bytes)`);
    }
  }
  out.push('');

  const native = r.servers.native !== undefined;
  const replicas = r.servers.replicas !== undefined;
  const ratioHeads = [...(native ? ['ours/native req/s'] : []), ...(replicas ? [`×${r.settings.replicas}/×1 req/s`] : [])];
  const head = ['scenario', 'server', 'req/s', 'p50 ms', 'p99 ms', 'errors / non-2xx', 'requests', 'server CPU ms/req', 'cores: server/loadgen/other', ...ratioHeads];
  const rows: string[][] = [];
  for (const sc of r.scenarios) {
    let first = true;
    SERVERS.forEach((name) => {
      const m = sc.results[name];
      if (!m) return;
      const title = first ? sc.title : '';
      first = false;
      const l = m.load;
      const ratioCell = (ratio: number | undefined, pair: ServerName[]) => {
        const disturbed = pair.some((n) => (sc.results[n]?.cpu?.otherCores ?? 0) >= QUIET_CORES);
        return ratio !== undefined ? `${ratio.toFixed(3)}×${disturbed ? ' *' : ''}` : '—';
      };
      const ratios = [
        ...(native ? [name === 'ours' ? ratioCell(sc.ratio, ['ours', 'native']) : ''] : []),
        ...(replicas ? [name === 'replicas' ? ratioCell(sc.replicaRatio, ['ours', 'replicas']) : ''] : []),
      ];
      if (!l) {
        rows.push([title, serverTitle(r, name), 'skipped', '', '', '', '', '', '', ...ratios]);
        return;
      }
      const errors = `${l.errors}${l.timeouts ? ` (${l.timeouts} timeouts)` : ''} / ${l.non2xx}`;
      const c = m.cpu;
      const cores = c ? `${c.serverCores.toFixed(2)} / ${c.loadGeneratorCores.toFixed(2)} / ${c.otherCores.toFixed(2)}` : '';
      rows.push([
        title, serverTitle(r, name), fmtRate(l.reqPerSec), fmtMs(l.latencyMs.p50), fmtMs(l.latencyMs.p99), errors, fmtInt(l.requests),
        c ? fmtMs(c.serverMsPerRequest) : '', cores, ...ratios,
      ]);
    });
  }
  out.push(...table(head, rows, [2, 3, 4, 6, 7, 8]));
  out.push(`  cores busy during the window: the server's processes / the load generator (this bench process) / every other process on the machine.`);
  out.push(...formatRounds(r));
  if (r.database.kind === 'mariadb') out.push(`  The server's CPU includes MariaDB's: one instance serves all, and only the server being measured queries it.`);
  if (rows.some((row) => row.some((cell) => cell.endsWith(' *')))) {
    out.push(`  * other processes used ≥ ${QUIET_CORES} cores during one of the two measurements the ratio rests on: that ratio is skewed (see Warnings).`);
  }
  out.push('');

  const memHead = ['server', 'RSS idle (before load)', 'RSS after load', 'processes', 'requests sent'];
  const memRows = SERVERS.filter((n) => r.servers[n]).map((n) => {
    const sv = r.servers[n]!;
    return [serverTitle(r, n), `${mb(sv.rssIdleKb)} MB`, sv.rssAfterKb !== undefined ? `${mb(sv.rssAfterKb)} MB` : '—', String(sv.processes), fmtInt(sv.requestsSent)];
  });
  if (native && r.servers.ours && r.servers.native) {
    const o = r.servers.ours, nv = r.servers.native;
    memRows.push([replicas ? 'ours ×1/native' : 'ours/native', `${(o.rssIdleKb / nv.rssIdleKb).toFixed(2)}×`, o.rssAfterKb && nv.rssAfterKb ? `${(o.rssAfterKb / nv.rssAfterKb).toFixed(2)}×` : '—', '', '']);
  }
  out.push(...table(memHead, memRows, [1, 2, 3, 4]));
  if (r.database.kind === 'mariadb') out.push(`  MariaDB's memory is in none of them.`);
  if (replicas) out.push('', ...formatReplicaSummary(r));
  out.push(...formatRecycling(r));

  const errorDetails: string[] = [];
  for (const sc of r.scenarios) {
    for (const name of SERVERS) {
      const l = sc.results[name]?.load;
      if (!l) continue;
      const codes = Object.entries(l.statusCodes).filter(([code]) => !code.startsWith('2'));
      const messages = Object.entries(l.errorMessages);
      if (codes.length || messages.length) {
        errorDetails.push(`  ${sc.title} / ${serverTitle(r, name)}: ${[...codes.map(([c, n]) => `${n}× status ${c}`), ...messages.map(([m, n]) => `${n}× ${m}`)].join(', ')}`);
      }
    }
  }
  if (errorDetails.length) out.push('', 'Errors under load:', ...errorDetails);
  for (const name of SERVERS) {
    const lines = r.servers[name]?.logLines ?? [];
    if (lines.length) out.push('', `${serverTitle(r, name)}: warnings/errors in its logs during the run (${lines.length}, last 20):`, ...lines.slice(-20).map((l) => `  ${l}`));
  }
  const dbLines = r.database.logLines;
  if (dbLines.length) out.push('', `MariaDB: warnings/errors in its log during the measurements (${dbLines.length}, last 20):`, ...dbLines.slice(-20).map((l) => `  ${l}`));
  if (r.warnings.length) out.push('', 'Warnings:', ...r.warnings.map((w) => `  - ${w}`));
  if (r.problems.length) out.push('', 'PROBLEMS:', ...r.problems.map((p) => `  - ${p}`));
  if (r.goals) {
    out.push('', 'Goals (issue #12): ours, native beside it; throughput as ours ÷ native req/s, memory and start time as ours\' own:', ...formatGoals(r.goals));
  }
  if (r.benchSeconds !== undefined) out.push('', `Bench took ${r.benchSeconds.toFixed(0)} s.`);
  return out.join('\n');
}
