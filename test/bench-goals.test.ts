/** Issue #12's goals as the bench judges them (bench/goals.ts), and where the report prints them. */
import t from 'tap';
import { parseBenchArgs } from '../bench/args.js';
import { evaluateGoals, formatGoals, type Goal } from '../bench/goals.js';
import type { LoadResult } from '../bench/load.js';
import type { RecycleLatencyResult } from '../bench/recycle-figures.js';
import type { SoakResult } from '../bench/soak.js';
import { formatReport, newReport, type BenchReport, type ServerName, type ServerReport } from '../bench/report.js';

function load(reqPerSec: number, p50 = 100, p99 = 150): LoadResult {
  return {
    requests: reqPerSec * 10, seconds: 10, reqPerSec, latencyMs: { p50, p90: p99, p99, max: p99, mean: p50 },
    errors: 0, timeouts: 0, non2xx: 0, statusCodes: { 200: reqPerSec * 10 }, errorMessages: {}, bytesPerResponse: 1000, sent: reqPerSec * 10, lateResponses: 0,
  };
}

function server(name: ServerName, rssIdleMb: number, firstPageSeconds?: number): ServerReport {
  return {
    name, label: name, workers: 2, baseUrl: 'http://127.0.0.1:1', startSeconds: 1, firstPageSeconds, notes: [],
    probeBefore: {}, rssIdleKb: rssIdleMb * 1024, processes: 1, requestsSent: 1, logLines: [],
  };
}

interface Figures {
  home: [number, number];
  rest: [number, number];
  hello?: [number, number];
  homeLatency?: [number, number];
  rssMb?: number;
  firstPage?: number;
  workers?: string;
  /** RSS before and after the soak, MB (ours; native's is 100 → 104). */
  soakMb?: [number, number];
  /** Home p99 steady and while recycling, ms (ours; native's is 200 → 220). */
  recycleP99?: [number, number];
}

const cpu = (otherCores = 0) => ({ serverMsPerRequest: 1, serverCores: 1, loadGeneratorCores: 0.1, otherCores });

function soakResult(beforeMb: number, afterMb: number): SoakResult {
  return {
    maxRequests: 1500, requests: 50_000, requestBound: 50_000, secondsBound: 420, seconds: 300, reqPerSec: 166, errors: 0, non2xx: 0, recycles: 30,
    rssBeforeKb: beforeMb * 1024, rssAfterKb: afterMb * 1024, settled: true, cpu: cpu(),
  };
}

function recycleResult(steadyP99: number, recyclingP99: number): RecycleLatencyResult {
  const check = { ok: true, status: 200, bytes: 1, ms: 1 };
  return {
    steadyMaxRequests: 1500, maxRequests: 20, steadyRecycles: 0, recycles: 8,
    steady: { check, load: load(10, steadyP99 / 2, steadyP99), cpu: cpu() },
    recycling: { check, load: load(9, steadyP99 / 2, recyclingP99), cpu: cpu() },
  };
}

function report(f: Figures): BenchReport {
  const r = newReport(parseBenchArgs(['--compare-native', '--workers', f.workers ?? '2'], '/tmp'));
  r.servers.ours = server('ours', f.rssMb ?? 250, f.firstPage);
  r.servers.native = server('native', 120, 0.3);
  const scenario = (id: string, pair: [number, number] | undefined, latency?: [number, number]) => {
    if (!pair) return;
    const check = { ok: true, status: 200, bytes: 1, ms: 1 };
    r.scenarios.push({ id, title: id, path: '/', results: { ours: { check, load: load(pair[0], ...(latency ?? [])) }, native: { check, load: load(pair[1]) } } });
  };
  scenario('home', f.home, f.homeLatency);
  scenario('rest', f.rest);
  scenario('hello', f.hello);
  if (f.soakMb) r.soak = { ours: soakResult(...f.soakMb), native: soakResult(100, 104) };
  if (f.recycleP99) r.recycleLatency = { ours: recycleResult(...f.recycleP99), native: recycleResult(200, 220) };
  return r;
}

const byId = (goals: Goal[]) => Object.fromEntries(goals.map((g) => [g.id, g]));

t.test('all met, bounds included', async (t) => {
  const goals = byId(evaluateGoals(report({ home: [20, 50], rest: [30, 60], hello: [500, 2000], homeLatency: [100, 200], rssMb: 300, firstPage: 2, soakMb: [400, 440], recycleP99: [1000, 1500] })));
  t.same(Object.keys(goals), ['home', 'rest', 'home-tail', 'hello', 'rss-idle', 'first-page', 'rss-soak', 'recycle-p99']);
  for (const goal of Object.values(goals)) t.equal(goal.status, 'met', goal.id);
  t.equal(goals.home.measured, 0.4, 'ours ÷ native');
  t.equal(goals.home.ours, 20);
  t.equal(goals.home.native, 50, "native's figure beside ours");
  t.equal(goals['home-tail'].measured, 2);
  t.equal(goals['home-tail'].native, 1.5, "native's own p99 ÷ p50");
  t.equal(goals['rss-idle'].native, 120);
  t.equal(goals['first-page'].native, 0.3);
  t.equal(goals['rss-soak'].measured, 10, 'growth in % of the RSS before');
  t.equal(goals['rss-soak'].native, 4, "native's own growth");
  t.equal(goals['recycle-p99'].measured, 1.5, 'p99 while recycling ÷ steady p99');
  t.equal(goals['recycle-p99'].native, 1.1);
});

t.test('just past each bound: not met', async (t) => {
  const goals = byId(evaluateGoals(report({ home: [19.9, 50], rest: [23.9, 60], hello: [499, 2000], homeLatency: [100, 201], rssMb: 301, firstPage: 2.01, soakMb: [400, 440.5], recycleP99: [1000, 1501] })));
  for (const goal of Object.values(goals)) t.equal(goal.status, 'not met', goal.id);
});

t.test('what was not measured is said so, not judged', async (t) => {
  const goals = byId(evaluateGoals(report({ home: [20, 50], rest: [30, 60], workers: '3' })));
  t.equal(goals.hello.status, 'not measured', 'no trivial-script scenario');
  t.equal(goals.hello.measured, undefined);
  t.equal(goals['first-page'].status, 'not measured', 'no restart timed');
  t.equal(goals['rss-idle'].status, 'not measured', 'the memory goal is for 2 workers');
  t.match(goals['rss-idle'].note, /2 workers; this run had 3/);
  t.equal(goals.home.status, 'met');
  t.equal(goals['rss-soak'].status, 'not measured');
  t.match(goals['rss-soak'].note, /--scenarios soak/);
  t.equal(goals['recycle-p99'].status, 'not measured');
  t.match(goals['recycle-p99'].note, /--scenarios recycle/);
});

t.test('a soak or recycle window that did not do what it is about is not judged', async (t) => {
  const cut = report({ home: [20, 50], rest: [30, 60], soakMb: [400, 400], recycleP99: [1000, 1000] });
  cut.soak!.ours!.requests = 31_000; // the time bound came first
  cut.recycleLatency!.ours!.recycles = 0;
  let goals = byId(evaluateGoals(cut));
  t.equal(goals['rss-soak'].status, 'not measured');
  t.match(goals['rss-soak'].note, /only 31,000 requests within 420 s/);
  t.equal(goals['rss-soak'].measured, 0, 'the figure is still shown');
  t.equal(goals['recycle-p99'].status, 'not measured');
  t.match(goals['recycle-p99'].note, /no worker recycled/);

  const unsteady = report({ home: [20, 50], rest: [30, 60], soakMb: [400, 400], recycleP99: [1000, 1000] });
  unsteady.soak!.ours!.recycles = 0;
  unsteady.recycleLatency!.ours!.steadyRecycles = 2;
  goals = byId(evaluateGoals(unsteady));
  t.match(goals['rss-soak'].note, /no worker recycled during the soak/);
  t.match(goals['recycle-p99'].note, /recycled in the steady window/);

  const busy = report({ home: [20, 50], rest: [30, 60], soakMb: [400, 400], recycleP99: [1000, 1000] });
  busy.soak!.ours!.cpu = cpu(0.5);
  busy.recycleLatency!.ours!.recycling!.cpu = cpu(0.5);
  goals = byId(evaluateGoals(busy));
  t.ok(goals['rss-soak'].skewed, 'busy during the soak');
  t.ok(goals['recycle-p99'].skewed, 'busy during the recycling window');
  t.equal(goals['recycle-p99'].status, 'met');
});

t.test('the table: figures with units, the target, the verdict', async (t) => {
  const lines = formatGoals(evaluateGoals(report({ home: [20, 80], rest: [30, 60], hello: [500, 2000], rssMb: 250, firstPage: 1.234, soakMb: [400, 460], recycleP99: [1000, 1234] })));
  t.equal(lines.length, 2 + 8, 'head, rule, one row per goal');
  const row = (title: string) => (lines.find((line) => line.startsWith(`| ${title} `)) ?? '').split('|').slice(2, -1).map((cell) => cell.trim());
  t.same(row('WordPress home page'), ['20.0 req/s', '80.0 req/s', '0.25× native', '≥ 0.4× native', 'NOT MET']);
  t.same(row('WordPress home page: p99 ÷ p50'), ['1.50× p50', '1.50× p50', '1.50× p50', '≤ 2× p50', 'met']);
  t.same(row('RSS idle, 2 workers'), ['250 MB', '120 MB', '250 MB', '≤ 300 MB', 'met']);
  t.same(row('First WordPress page after start'), ['1.23 s', '0.30 s', '1.23 s', '≤ 2 s', 'met']);
  t.same(row('RSS growth after 50,000 requests with recycles'), ['+15.0 %', '+4.0 %', '+15.0 %', '≤ 10 %', 'NOT MET']);
  t.same(row('Home p99 while workers recycle ÷ steady'), ['1.23× steady', '1.10× steady', '1.23× steady', '≤ 1.5× steady', 'met']);
});

t.test('a figure measured while other processes were busy is flagged, not trusted', async (t) => {
  const r = report({ home: [20, 50], rest: [30, 60], hello: [500, 2000], firstPage: 1.5 });
  r.scenarios.find((s) => s.id === 'home')!.results.native!.cpu = { serverMsPerRequest: 40, serverCores: 1.5, loadGeneratorCores: 0.1, otherCores: 0.7 };
  r.servers.ours!.firstPageOtherCores = 0.3;
  const goals = byId(evaluateGoals(r));
  t.ok(goals.home.skewed, "native's home measurement was disturbed: so is the ratio");
  t.notOk(goals['home-tail'].skewed, "the tail goal rests on ours' measurement only");
  t.notOk(goals.rest.skewed);
  t.ok(goals['first-page'].skewed, 'busy while ours started');
  const lines = formatGoals(Object.values(goals));
  t.match(lines.find((line) => line.startsWith('| WordPress home page ')), /\| met \* +\|$/);
  t.match(lines.at(-1), /^ {2}\* other processes used ≥ 0\.25 cores/);
});

t.test('the report prints the goals last, when the run judged them', async (t) => {
  const r = report({ home: [20, 50], rest: [30, 60] });
  t.notMatch(formatReport(r), /Goals/);
  r.goals = evaluateGoals(r);
  const text = formatReport(r);
  t.match(text, /Goals \(issue #12\)[^\n]*\n\| goal /);
  t.ok(text.indexOf('Goals') > text.indexOf('RSS idle (before load)'), 'after the memory table');
  t.notMatch(text, /^(Soak|Home page p99 while workers recycle) \(/m, 'no recycling tables when they did not run');
  const recycled = report({ home: [20, 50], rest: [30, 60], soakMb: [400, 420], recycleP99: [1000, 1300] });
  const withTables = formatReport(recycled);
  t.match(withTables, /Soak \(90 % trivial[^\n]*\n\| server /);
  t.match(withTables, /\| ours +\| 50,000 in 300 s \|[^\n]*\| +400 MB \| +420 MB \| +\+5\.0 % \|/);
  t.match(withTables, /\| ours +\| +1,000 \| +0 \| +20 \| +1,300 \| +8 \| +1\.30× \|/);
});
