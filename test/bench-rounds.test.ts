/**
 * The bench measures each scenario in rounds, alternating the servers, and a server's median
 * round is its result (bench/rounds.ts, bench/phase.ts): pure parts, then a real phase against two
 * small HTTP servers over 127.0.0.1, each answering at its own pace.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBenchArgs } from '../bench/args.js';
import { spawnChild, stopChild } from '../bench/children.js';
import type { LoadResult } from '../bench/load.js';
import { measurePhase } from '../bench/phase.js';
import { formatReport, formatRounds, newReport, type Measurement, type ServerName, type ServerReport } from '../bench/report.js';
import { medianRound, medianStart, representative, roundOrder, roundRates, startInRounds } from '../bench/rounds.js';
import { SCENARIOS } from '../bench/scenarios.js';
import { treeRss } from '../bench/rss.js';
import type { Target } from '../bench/target.js';

function loaded(reqPerSec: number, requests = reqPerSec * 10): Measurement {
  const load: LoadResult = {
    requests, seconds: 10, reqPerSec, latencyMs: { p50: 1, p90: 2, p99: 3, max: 4, mean: 1 },
    errors: 0, timeouts: 0, non2xx: 0, statusCodes: { 200: requests }, errorMessages: {}, bytesPerResponse: 5, sent: requests, lateResponses: 0,
  };
  return { check: { ok: true, status: 200, bytes: 5, ms: 1 }, load };
}

t.test('servers alternate: the first of one round is the last of the next', async (t) => {
  t.same(roundOrder(['ours', 'native'], 0), ['ours', 'native']);
  t.same(roundOrder(['ours', 'native'], 1), ['native', 'ours']);
  t.same(roundOrder(['ours', 'native'], 2), ['ours', 'native']);
  t.same(roundOrder(['replicas'], 1), ['replicas']);
  const targets = ['a', 'b'];
  roundOrder(targets, 1);
  t.same(targets, ['a', 'b'], 'the caller\'s list is left as it was');
});

t.test('the median round stands for a server, whole', async (t) => {
  const rounds = [loaded(30), loaded(10), loaded(20)];
  t.equal(medianRound(rounds), rounds[2], 'odd count: the middle one, not the first or the best');
  const four = [loaded(40), loaded(10), loaded(30), loaded(20)];
  t.equal(medianRound(four), four[3], 'even count: the lower of the two middle ones');
  t.equal(medianRound([loaded(5)])!.load!.reqPerSec, 5);
  const failed: Measurement = { check: { ok: false, problem: 'status 500', status: 500, bytes: 0, ms: 1 }, skipped: 'check failed' };
  const empty = loaded(0, 0);
  t.equal(medianRound([failed, empty, loaded(7)])!.load!.reqPerSec, 7, 'rounds without responses do not count');
  t.equal(medianRound([failed]), undefined);
  t.equal(representative([failed]), failed, 'with no loaded round, the first one is what the report shows');
  t.equal(representative([]), undefined);
  t.same(roundRates([loaded(3), failed, loaded(4)]), [3, null, 4]);
});

t.test('a round of error responses does not stand for a server while clean rounds exist', async (t) => {
  const erring = (reqPerSec: number, field: 'errors' | 'non2xx'): Measurement => {
    const m = loaded(reqPerSec);
    m.load![field] = 5;
    return m;
  };
  const rounds = [erring(900, 'non2xx'), loaded(10), erring(800, 'errors'), loaded(12), loaded(11)];
  t.equal(medianRound(rounds), rounds[4], 'the median of the three clean rounds');
  const allErring = [erring(3, 'errors'), erring(1, 'non2xx'), erring(2, 'errors')];
  t.equal(medianRound(allErring), allErring[2], 'all with errors: the median of them all');
});

t.test('the first page after start: the median start, the slower middle one for an even count', async (t) => {
  const a = { seconds: 2.4, otherCores: 0.1 }, b = { seconds: 1.9, otherCores: 0 }, c = { seconds: 2.1, otherCores: 0.3 }, d = { seconds: 3.5, otherCores: 0 };
  t.equal(medianStart([a, b, c]), c, 'whole: its cores come with it');
  t.equal(medianStart([a, b, c, d]), a);
  t.equal(medianStart([b]), b);
  t.equal(medianStart([]), undefined);
  const r = newReport(parseBenchArgs(['--compare-native'], '/x'));
  r.servers.ours = { name: 'ours', label: 'ours', workers: 2, baseUrl: 'http://127.0.0.1:1', startSeconds: 1, notes: [], probeBefore: {}, rssIdleKb: 1, processes: 1, requestsSent: 1, logLines: [],
    firstPageSeconds: 2.1, firstPageOtherCores: 0.3, firstPageRounds: [2.4, 1.9, 2.1] };
  t.match(formatReport(r), /first home page 2\.10 s after spawn \(restarted on the prepared site; other processes 0\.30 cores meanwhile; median of 3 starts: 2\.40 \/ 1\.90 \/ 2\.10 s\)/);
});

t.test('servers start once per round, alternating; the last round stays up with the median start of each', async (t) => {
  const firstPages: Record<string, number[]> = { ours: [2.4, 1.9, 2.1], native: [0.7, 0.6, 0.65] };
  const log: string[] = [];
  const started = (name: ServerName, running: Target[]): Promise<Target> => {
    log.push(`start ${name} beside ${running.map((r) => r.name).join(',') || 'none'}`);
    const target = { name, firstPageSeconds: firstPages[name]!.shift(), firstPageOtherCores: name === 'ours' ? 0.2 : 0, stop: async () => void log.push(`stop ${name}`) };
    return Promise.resolve(target as unknown as Target);
  };
  const targets = await startInRounds(['ours', 'native'], 3, started);
  t.same(log, [
    'start ours beside none', 'start native beside ours', 'stop ours', 'stop native',
    'start native beside none', 'start ours beside native', 'stop native', 'stop ours',
    'start ours beside none', 'start native beside ours',
  ], 'the order alternates; every round but the last is stopped');
  t.same(targets.map((target) => target.name), ['ours', 'native']);
  t.equal(targets[0]!.firstPageSeconds, 2.1, 'ours: the median start, not the last one');
  t.same(targets[0]!.firstPageRounds, [2.4, 1.9, 2.1]);
  t.equal(targets[0]!.firstPageOtherCores, 0.2);
  t.equal(targets[1]!.firstPageSeconds, 0.65);
  const once = await startInRounds(['ours'], 1, (name) => Promise.resolve({ name, firstPageSeconds: 3, stop: async () => undefined } as unknown as Target));
  t.equal(once[0]!.firstPageSeconds, 3, 'one start: its own time');
  t.equal(once[0]!.firstPageRounds, undefined, 'and no list of one');
});

t.test('each round is listed, a round without responses as a dash', async (t) => {
  const r = newReport(parseBenchArgs(['--compare-native'], '/x'));
  t.same(formatRounds(r), [], 'nothing to list without rounds');
  r.scenarios.push({ id: 'home', title: 'WordPress home page', path: '/', results: {}, rounds: { ours: [14.25, null, 15], native: [40, 41.5, 39] } });
  const lines = formatRounds(r);
  t.equal(lines.length, 2);
  t.match(lines[1], /WordPress home page: ours 14\.\d+ \/ — \/ 15\.\d+; native 40\.\d+ \/ 41\.\d+ \/ 39\.\d+/);
});

t.test('--rounds: 3 by default, a whole number from 1 to 15', async (t) => {
  t.equal(parseBenchArgs([], '/x').rounds, 3);
  t.equal(parseBenchArgs(['--rounds', '1'], '/x').rounds, 1);
  t.equal(parseBenchArgs(['--rounds', '5'], '/x').rounds, 5);
  for (const bad of ['0', '16', '1.5', 'two']) t.throws(() => parseBenchArgs(['--rounds', bad], '/x'), /--rounds/, bad);
});

/** A small HTTP server that answers "hello" after `delayMs`, as its own process (the bench reads its CPU and RSS). */
function helloServer(name: ServerName, delayMs: number, dir: string): Promise<Target> {
  const code = `
    const http = require('node:http');
    const server = http.createServer((req, res) => setTimeout(() => { res.setHeader('content-type', 'text/plain'); res.end('hello'); }, ${delayMs}));
    server.listen(0, '127.0.0.1', () => console.log('PORT ' + server.address().port));`;
  const child = spawnChild(name, process.execPath, ['-e', code], { logFile: join(dir, `${name}.log`), marker: 'PORT' });
  return new Promise((resolve, reject) => {
    let text = '';
    const poll = setInterval(() => {
      try {
        text = readFileSync(child.logFile, 'utf8');
      } catch {
        return;
      }
      const port = /PORT (\d+)/.exec(text)?.[1];
      if (port) {
        clearInterval(poll);
        resolve({
          name, label: name, workers: 1, baseUrl: `http://127.0.0.1:${port}`, wordpressDir: dir,
          rss: () => treeRss([child.pid]), children: [child], logFiles: [child.logFile], notes: [], startSeconds: 0, stop: () => stopChild(child),
        });
      }
    }, 20);
    void child.exited.then(() => {
      clearInterval(poll);
      reject(new Error(`${name} exited: ${text}`));
    });
  });
}

t.test('a phase measures every server in each round, alternating, and reports its median round', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-rounds-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ours = await helloServer('ours', 50, dir);
  const native = await helloServer('native', 1, dir);
  t.teardown(async () => {
    await ours.stop();
    await native.stop();
  });
  const args = parseBenchArgs(['--compare-native', '--rounds', '3', '--duration', '1', '--warmup', '0', '--quiet-wait', '0', '--connections', '2'], dir);
  const r = newReport(args);
  // Known servers (as after a restart): the phase skips their idle-memory reading and PHP probe.
  const known = (name: ServerName): ServerReport => ({
    name, label: name, workers: 1, baseUrl: '', startSeconds: 0, notes: [], probeBefore: {}, rssIdleKb: 1, processes: 1, requestsSent: 0, logLines: [],
  });
  r.servers.ours = known('ours');
  r.servers.native = known('native');
  const said: string[] = [];
  const hello = SCENARIOS.find((s) => s.id === 'hello')!;
  await measurePhase([ours, native], [hello], r, args, (line) => said.push(line));

  const measured = said.filter((line) => /^ {2}(ours|native) /.test(line)).map((line) => line.trim().split(' ')[0]);
  t.same(measured, ['ours', 'native', 'native', 'ours', 'ours', 'native'], 'three rounds, the order alternating');
  const entry = r.scenarios.find((s) => s.id === 'hello')!;
  t.equal(entry.rounds?.ours?.length, 3);
  t.equal(entry.rounds?.native?.length, 3);
  for (const name of ['ours', 'native'] as const) {
    const rates = entry.rounds![name]!;
    t.ok(rates.every((rate) => rate !== null && rate > 0), `${name}: every round had responses`);
    const median = (rates as number[]).slice().sort((a, b) => a - b)[1];
    t.equal(entry.results[name]?.load?.reqPerSec, median, `${name}: the row is its median round`);
  }
  t.equal(entry.ratio, entry.results.ours!.load!.reqPerSec / entry.results.native!.load!.reqPerSec, 'the ratio is of the two median rounds');
  t.ok(entry.ratio! < 1, `the slower server is slower (${entry.ratio?.toFixed(2)}×)`);
  t.equal(r.problems.length, 0, r.problems.join('\n'));
  // The median round and one at least as fast: had only the median one been counted, this would be 1 + its own.
  const requests = (name: ServerName) => r.servers[name]!.requestsSent;
  t.ok(requests('ours') > 1.5 * entry.results.ours!.load!.sent, 'requests of every round are counted, not only the median one');
  const text = formatReport(r);
  t.match(text, /Rounds: each scenario 3 times per server/);
  t.match(text, new RegExp(`Trivial \\.php \\(echo "hello"\\): ours [\\d.,]+ / [\\d.,]+ / [\\d.,]+; native [\\d.,]+ / [\\d.,]+ / [\\d.,]+`));
});
