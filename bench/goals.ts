/**
 * The goals of issue #12 ("Performance round 2"), judged from what the bench measured, with
 * native's figure beside ours in each: throughput as a share of native's, the home page's tail
 * latency, idle memory, the time from start to the first WordPress page, memory after a soak with
 * recycles, and the home page's tail while workers recycle.
 */
import { QUIET_CORES } from './args.js';
import { recycleP99Ratio } from './recycle-figures.js';
import type { BenchReport, ServerName } from './report.js';
import { growthPercent } from './settle.js';
import { SOAK_REQUESTS } from './soak-mix.js';
import { fmtInt, fmtRate, table } from './table.js';

export type GoalStatus = 'met' | 'not met' | 'not measured';

export interface Goal {
  id: 'home' | 'rest' | 'home-tail' | 'hello' | 'rss-idle' | 'first-page' | 'rss-soak' | 'recycle-p99';
  title: string;
  /** Ours' and native's figures, in `unit`. */
  ours?: number;
  native?: number;
  unit: 'req/s' | '× p50' | 'MB' | 's' | '%' | '× steady';
  /** What the goal bounds: ours ÷ native for throughput, else ours' own figure. */
  measured?: number;
  /** measured ≥ limit ('at least') or ≤ limit ('at most'). */
  comparison: 'at least' | 'at most';
  limit: number;
  status: GoalStatus;
  /** Other processes used ≥ QUIET_CORES during a measurement it rests on: the verdict may be wrong. */
  skewed: boolean;
  /** Why a goal is not measured, when it is not for want of a measurement. */
  note?: string;
}

/** The idle-memory goal is for this many workers. */
const GOAL_WORKERS = 2;

export function evaluateGoals(r: BenchReport): Goal[] {
  const result = (scenario: string, server: ServerName) => r.scenarios.find((s) => s.id === scenario)?.results[server];
  const load = (scenario: string, server: ServerName) => {
    const l = result(scenario, server)?.load;
    return l && l.requests > 0 ? l : undefined;
  };
  const busy = (scenario: string, ...servers: ServerName[]) => servers.some((server) => (result(scenario, server)?.cpu?.otherCores ?? 0) >= QUIET_CORES);
  const rate = (scenario: string, server: ServerName) => load(scenario, server)?.reqPerSec;
  const tail = (server: ServerName) => {
    const l = load('home', server);
    return l ? l.latencyMs.p99 / l.latencyMs.p50 : undefined;
  };
  const idleMb = (server: ServerName) => {
    const kb = r.servers[server]?.rssIdleKb;
    return kb === undefined ? undefined : kb / 1024;
  };
  const workers = r.settings.workers;
  const rss = bounded('rss-idle', `RSS idle, ${workers} workers`, 'MB', idleMb('ours'), idleMb('native'), 300, false);
  if (workers !== GOAL_WORKERS) {
    rss.status = 'not measured';
    rss.note = `the goal is for ${GOAL_WORKERS} workers; this run had ${workers} (--workers)`;
  }
  const versus = (id: 'home' | 'rest' | 'hello', title: string, limit: number) =>
    versusNative(id, title, rate(id, 'ours'), rate(id, 'native'), limit, busy(id, 'ours', 'native'));
  const startBusy = (r.servers.ours?.firstPageOtherCores ?? 0) >= QUIET_CORES;
  return [
    versus('home', 'WordPress home page', 0.4),
    versus('rest', 'REST /wp/v2/posts', 0.4),
    bounded('home-tail', 'WordPress home page: p99 ÷ p50', '× p50', tail('ours'), tail('native'), 2, busy('home', 'ours')),
    versus('hello', 'Trivial .php', 0.25),
    rss,
    bounded('first-page', 'First WordPress page after start', 's', r.servers.ours?.firstPageSeconds, r.servers.native?.firstPageSeconds, 2, startBusy),
    soakGoal(r),
    recycleGoal(r),
  ];
}

/** RSS idle after the soak (with recycles) vs before, in % of before: at most +10 %. */
function soakGoal(r: BenchReport): Goal {
  const growth = (server: ServerName) => {
    const s = r.soak?.[server];
    return s ? growthPercent(s.rssBeforeKb, s.rssAfterKb) : undefined;
  };
  const ours = r.soak?.ours;
  const goal = bounded('rss-soak', `RSS growth after ${fmtInt(SOAK_REQUESTS)} requests with recycles`, '%', growth('ours'), growth('native'), 10, (ours?.cpu.otherCores ?? 0) >= QUIET_CORES);
  if (!ours) return notMeasured(goal, 'run with --scenarios soak');
  if (ours.requests < ours.requestBound) return notMeasured(goal, `only ${fmtInt(ours.requests)} requests within ${ours.secondsBound} s`);
  if (ours.recycles === 0) return notMeasured(goal, 'no worker recycled during the soak');
  return goal;
}

/** The home page's p99 while workers recycle ÷ its steady p99: at most 1.5×. */
function recycleGoal(r: BenchReport): Goal {
  const ours = r.recycleLatency?.ours;
  const busy = [ours?.steady, ours?.recycling].some((m) => (m?.cpu?.otherCores ?? 0) >= QUIET_CORES);
  const goal = bounded('recycle-p99', 'Home p99 while workers recycle ÷ steady', '× steady', recycleP99Ratio(ours), recycleP99Ratio(r.recycleLatency?.native), 1.5, busy);
  if (!ours) return notMeasured(goal, 'run with --scenarios recycle');
  if (ours.recycles === 0) return notMeasured(goal, 'no worker recycled in the window');
  if (ours.steadyRecycles) return notMeasured(goal, 'workers recycled in the steady window');
  return goal;
}

function notMeasured(goal: Goal, note: string): Goal {
  return { ...goal, status: 'not measured', note };
}

/** Ours ÷ native at least `limit`. */
function versusNative(id: Goal['id'], title: string, ours: number | undefined, native: number | undefined, limit: number, skewed: boolean): Goal {
  const measured = ours !== undefined && native !== undefined ? ours / native : undefined;
  return { id, title, ours, native, unit: 'req/s', measured, comparison: 'at least', limit, status: judge(measured, (m) => m >= limit), skewed };
}

/** Ours' own figure at most `limit` (native's shown beside it). */
function bounded(id: Goal['id'], title: string, unit: Goal['unit'], ours: number | undefined, native: number | undefined, limit: number, skewed: boolean): Goal {
  return { id, title, ours, native, unit, measured: ours, comparison: 'at most', limit, status: judge(ours, (m) => m <= limit), skewed };
}

function judge(measured: number | undefined, ok: (measured: number) => boolean): GoalStatus {
  if (measured === undefined || !Number.isFinite(measured)) return 'not measured';
  return ok(measured) ? 'met' : 'not met';
}

/** The goals as a table, one row each. */
export function formatGoals(goals: Goal[]): string[] {
  const head = ['goal', 'ours', 'native', 'measured', 'target', 'status'];
  const rows = goals.map((g) => {
    const relative = g.unit === 'req/s';
    const measured = g.measured === undefined ? '—' : relative ? `${g.measured.toFixed(2)}× native` : figure(g.measured, g.unit);
    const limit = relative ? '× native' : g.unit.startsWith('×') ? g.unit : ` ${g.unit}`;
    const target = `${g.comparison === 'at least' ? '≥' : '≤'} ${g.limit}${limit}`;
    const status = `${g.status === 'not met' ? 'NOT MET' : g.status}${g.skewed && g.status !== 'not measured' ? ' *' : ''}`;
    return [g.title, figure(g.ours, g.unit), figure(g.native, g.unit), measured, target, g.note ? `${status} (${g.note})` : status];
  });
  const lines = table(head, rows, [1, 2, 3]);
  if (goals.some((g) => g.skewed)) lines.push(`  * other processes used ≥ ${QUIET_CORES} cores during a measurement it rests on: run again on a quieter machine before believing it (see Warnings).`);
  return lines;
}

function figure(value: number | undefined, unit: Goal['unit']): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  if (unit === 'req/s') return `${fmtRate(value)} req/s`;
  if (unit === 'MB') return `${fmtInt(value)} MB`;
  if (unit === 's') return `${value.toFixed(2)} s`;
  if (unit === '%') return `${value >= 0 ? '+' : ''}${value.toFixed(1)} %`;
  return `${value.toFixed(2)}${unit}`;
}
