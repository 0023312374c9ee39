/**
 * The worker pool over real HTTP with real php.wasm workers: PHP off the main thread, queueing and
 * its limits, request timeouts (terminate, replace, free SQLite locks), fatal errors, a crashed
 * instance, recycling without stalls, spreading load, graceful close.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { startTestServer, tempDir, type TestServer } from './helpers/server.js';
import { until } from './helpers/until.js';

interface Got {
  status: number;
  headers: Headers;
  body: string;
}

/** One GET; a request that takes longer than `timeoutMs` fails the test instead of hanging it. */
async function get(server: TestServer, path: string, timeoutMs = 15_000): Promise<Got> {
  const response = await fetch(server.url + path, { signal: AbortSignal.timeout(timeoutMs) });
  const body = await response.text();
  return { status: response.status, headers: response.headers, body };
}

/** The pace of the recycling test's traffic (a load profile, not a wait for anything). */
const REQUEST_INTERVAL_MS = 80;

/** What pid-slow.php answers: the worker, and when it held it (seconds since the epoch). */
interface Span {
  pid: number;
  start: number;
  end: number;
}

function json(got: Got): Record<string, unknown> {
  try {
    return JSON.parse(got.body) as Record<string, unknown>;
  } catch {
    throw new Error(`not JSON (status ${got.status}): ${JSON.stringify(got.body.slice(0, 300))}`);
  }
}


/** The pids of the workers that answer `n` parallel requests which each hold a worker for `ms`. */
async function parallelPids(server: TestServer, n: number, ms = 300): Promise<number[]> {
  const answers = await Promise.all(Array.from({ length: n }, () => get(server, `/pid-slow.php?ms=${ms}`)));
  for (const answer of answers) if (answer.status !== 200) throw new Error(`pid-slow.php answered ${answer.status}`);
  return answers.map((answer) => Number(json(answer).pid));
}

t.test('PHP never runs on the main thread: a spinning script blocks neither static files nor other PHP', async (t) => {
  const server = await startTestServer({ workers: 2, requestTimeout: 3 });
  t.teardown(() => server.close());
  const spinning = get(server, '/loop.php');
  let spun = false;
  void spinning.finally(() => { spun = true; });
  await until('loop.php to occupy a worker', () => server.pool.stats.busy === 1);

  // Both are answered while the loop still runs: PHP's thread is not the one that serves HTTP.
  const file = await get(server, '/hello.txt');
  const php = await get(server, '/pid.php');
  t.equal(file.status, 200, 'a static file is served while PHP spins');
  t.equal(php.status, 200, 'another PHP request is served by the other worker');
  t.notOk(spun, 'loop.php was still running meanwhile');
  t.equal(server.pool.stats.busy, 1, 'loop.php is still running');
  t.equal((await spinning).status, 504, 'the spinning script ends at the request timeout');
});

t.test('requests queue while every worker is busy, and all complete', async (t) => {
  const server = await startTestServer({ workers: 1 });
  t.teardown(() => server.close());
  const requests = Array.from({ length: 4 }, () => get(server, '/pid-slow.php?ms=300'));
  await until('three requests to wait in the queue', () => server.pool.stats.queued === 3);
  t.equal(server.pool.stats.busy, 1, 'one runs, three wait');
  const answers = await Promise.all(requests);
  t.same(answers.map((a) => a.status), Array(4).fill(200), 'every queued request completes');
  const spans = answers.map((a) => json(a) as unknown as Span).sort((a, b) => a.start - b.start);
  t.ok(spans.every((span, i) => i === 0 || spans[i - 1].end <= span.start), 'one worker ran them one after another (no two overlap)');
  t.equal(server.pool.stats.queued, 0, 'the queue is empty again');
});

t.test('past queueLimit a request gets 503 with Retry-After at once', async (t) => {
  const server = await startTestServer({ workers: 1, queueLimit: 1 });
  t.teardown(() => server.close());
  const running = get(server, '/sleep.php?ms=800');
  await until('the first request to run', () => server.pool.stats.busy === 1);
  const queued = get(server, '/sleep.php?ms=800');
  await until('the second request to wait', () => server.pool.stats.queued === 1);
  const refused = await get(server, '/sleep.php?ms=800');

  t.equal(refused.status, 503, 'the third request is refused');
  t.match(refused.headers.get('retry-after'), /^[1-9]\d*$/, 'with Retry-After in seconds');
  t.equal(server.pool.stats.queued, 1, 'without waiting for a place (see pool-lifecycle.test for the policy)');
  t.same([(await running).status, (await queued).status], [200, 200], 'the running and the queued request complete');
});

t.test('past queueTimeout a waiting request gets 503 with Retry-After', async (t) => {
  const server = await startTestServer({ workers: 1, queueTimeout: 0.3 });
  t.teardown(() => server.close());
  const running = get(server, '/sleep.php?ms=1500');
  await until('the first request to run', () => server.pool.stats.busy === 1);
  const waited = await get(server, '/pid.php');

  t.equal(waited.status, 503, 'the waiting request is refused');
  t.match(waited.headers.get('retry-after'), /^[1-9]\d*$/, 'with Retry-After in seconds');
  t.equal(server.pool.stats.queued, 0, 'it left the queue');
  const first = await running;
  t.same([first.status, first.body], [200, 'slept'], 'the running request is unaffected');
});

t.test('requestTimeout: 504, the worker is replaced, its SQLite lock freed, the server keeps serving', async (t) => {
  const data = tempDir(t);
  const server = await startTestServer({ workers: 2, requestTimeout: 2, mounts: [{ host: data, guest: '/data', readOnly: false }] });
  t.teardown(() => server.close());
  const before = new Set(await parallelPids(server, 2));
  t.equal(before.size, 2, 'two workers before');

  const holder = get(server, '/sqlite-lock.php?action=hold');
  // The other worker cannot write while the holder keeps its exclusive transaction open.
  await until('the holder to take the lock', () => existsSync(join(data, 'holding')));
  const holderPid = Number(readFileSync(join(data, 'holding'), 'utf8'));
  t.ok(holderPid > 0, `the holder wrote its pid (${holderPid})`);
  const blocked = json(await get(server, '/sqlite-lock.php?action=try'));
  t.match(blocked, { ok: false, error: /locked/i }, 'while the holder runs, another worker finds the database locked');

  const timedOut = await holder;
  t.equal(timedOut.status, 504, 'the client gets 504 (the exact timing is pool-lifecycle.test\'s)');
  const killed = server.logs.find((l) => l.msg === 'request timed out; terminating worker')?.worker as number;
  t.equal(killed, holderPid, `the holder's worker (${holderPid}) was terminated`);

  // Released once the worker has really stopped (usually before the 504 is sent; see pool.kill).
  await until('the dead worker\'s lock to be released', async () => json(await get(server, '/sqlite-lock.php?action=try')).ok === true);
  t.pass('the other worker can write again: the dead worker\'s lock was released');

  let after = new Set<number>();
  await until('the replacement to serve', async () => {
    after = new Set(await parallelPids(server, 2));
    return after.size === 2;
  }, 60_000);
  t.notOk(after.has(killed), 'the terminated worker is gone');
  t.equal([...after].filter((pid) => !before.has(pid)).length, 1, `a new worker took its place (${[...before]} → ${[...after]})`);

  const check = json(await get(server, '/sqlite.php?action=check'));
  t.same(check, { count: 1, integrity: 'ok' }, "the holder's transaction was rolled back, the later write kept, the file intact");
  t.equal((await get(server, '/hello.txt')).status, 200, 'the server keeps serving');
});

t.test('a PHP fatal error gives 500 and the same worker serves the next request', async (t) => {
  const server = await startTestServer({ workers: 1 });
  t.teardown(() => server.close());
  const pid = json(await get(server, '/pid.php')).pid;
  const fatal = await get(server, '/fatal.php');
  t.equal(fatal.status, 500, 'fatal error → 500');
  t.notMatch(fatal.body, /undefined_function_called_here/, 'the error text is not shown to the visitor');
  const next = await get(server, '/pid.php');
  t.equal(next.status, 200);
  t.equal(json(next).pid, pid, 'the same worker (no replacement needed)');
  t.ok(server.logs.some((l) => /Call to undefined function/.test(String(l.php))), 'the fatal error is logged');
});

t.test('an instance that dies mid-request (C exit on wasm out-of-memory) gives 5xx and is replaced', async (t) => {
  const server = await startTestServer({ workers: 1, requestTimeout: 60 });
  t.teardown(() => server.close());
  const pid = json(await get(server, '/pid.php')).pid;
  const crashed = await get(server, '/pcre-oom.php', 60_000);
  t.ok(crashed.status >= 500 && crashed.status < 600, `the client gets a 5xx (${crashed.status})`);
  t.notMatch(crashed.body, /survived/, 'the script did not run to its end');
  t.ok(server.logs.some((l) => l.msg === 'php crashed; replacing worker'), 'the crash is logged');

  const next = await get(server, '/pid.php', 60_000); // waits for the replacement to boot (slow on a loaded machine)
  t.equal(next.status, 200, 'the next request is served');
  t.not(next.body, '', 'with a body (the broken instance answered the next request with an empty 200)');
  t.not(json(next).pid, pid, 'by a new worker');
  const more = await Promise.all(Array.from({ length: 5 }, () => get(server, '/pid.php')));
  t.same(more.map((m) => m.status), Array(5).fill(200), 'the server keeps serving');
});

t.test('recycling after maxRequests with real workers: every request succeeds, successors take over, none waits for a boot', async (t) => {
  const server = await startTestServer({ workers: 1, maxRequests: 4, workerResets: 0, adminPort: 0 });
  t.teardown(() => server.close());
  // Traffic at about 10 requests a second, a steady site's pace: a worker due for recycling serves
  // at most 200 more while its successor boots, which covers a boot of 20 s at this pace (back-to-back
  // requests of a few ms each would outrun any boot, and then waiting is the policy: see
  // pool-lifecycle.test). It runs until three workers have served, however long boots take here.
  const answers: Got[] = [];
  const pids = new Set<number>();
  while (pids.size < 3 && answers.length < 600) {
    const answer = await get(server, '/pid.php');
    answers.push(answer);
    if (answer.status === 200) pids.add(Number(json(answer).pid));
    await new Promise((resolve) => setTimeout(resolve, REQUEST_INTERVAL_MS));
  }
  // How long each request waited for a worker, as the pool measured it (the metrics histogram): one
  // that found none free would wait for a boot (a second or more); one that found one waits nothing.
  const metrics = await (await fetch(`${server.adminUrl}/metrics`)).text();
  const waited = (le: string) => Number(new RegExp(`php_wasm_server_queue_wait_seconds_bucket\\{le="${le}"\\} (\\d+)`).exec(metrics)?.[1]);
  const requests = Number(/php_wasm_server_queue_wait_seconds_count (\d+)/.exec(metrics)?.[1]);

  t.same(answers.map((a) => a.status), Array(answers.length).fill(200), `all ${answers.length} requests succeed`);
  t.equal(pids.size, 3, `three workers served them in turn: ${[...pids].join(', ')}`);
  t.ok(server.logs.filter((l) => l.msg === 'recycling php worker').length >= 2, 'workers were recycled');
  t.ok(requests >= answers.length, `the pool measured every request's wait (${requests})`);
  t.equal(waited('0.05'), requests, 'none waited for a worker: no request waited for a boot');
  await until('the pool to settle', () => server.pool.stats.workers === 1 && server.pool.stats.busy === 0, 20_000);
  t.pass('old workers leave: one worker again');
});

t.test('one worker serves past request 2046, where php.wasm used to run out of descriptors', async (t) => {
  // php.wasm opens two descriptors per run and never closes them; the worker closes them (see
  // php-wasm/direct-request.ts), so recycling is a policy, not a necessity.
  const server = await startTestServer({ workers: 1, maxRequests: 5000 });
  t.teardown(() => server.close());
  const pids = new Set<number>();
  const statuses = new Map<number, number>();
  for (let i = 0; i < 2100; i++) {
    const answer = await get(server, '/pid.php');
    statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    if (answer.status === 200) pids.add(Number(json(answer).pid));
  }
  t.same([...statuses], [[200, 2100]], 'all 2100 succeed');
  t.equal(pids.size, 1, 'one instance served them all');
  t.equal(server.logs.filter((l) => l.msg === 'recycling php worker').length, 0, 'no recycling');
});

t.test('parallel requests spread across the workers', async (t) => {
  const server = await startTestServer({ workers: 2 });
  t.teardown(() => server.close());
  const answers = await Promise.all(Array.from({ length: 4 }, () => get(server, '/pid-slow.php?ms=1000')));
  t.same(answers.map((a) => a.status), Array(4).fill(200));
  const spans = answers.map((a) => json(a) as unknown as Span);
  const pids = spans.map((span) => span.pid);
  t.equal(new Set(pids).size, 2, `two workers answered (${pids.join(', ')})`);
  const overlapping = spans.some((a, i) => spans.some((b, j) => i !== j && a.pid !== b.pid && a.start < b.end && b.start < a.end));
  t.ok(overlapping, 'in parallel: the two workers ran at the same time');
});

t.test('pool.close lets an in-flight request finish, then refuses new work', async (t) => {
  const server = await startTestServer({ workers: 1 });
  t.teardown(() => server.close());
  const inFlight = get(server, '/pid-slow.php?ms=1000');
  await until('the request to run', () => server.pool.stats.busy === 1);
  await server.pool.close(5000);
  const closedAt = Date.now() / 1000;
  const got = await inFlight;
  t.equal(got.status, 200, 'the in-flight request completes');
  t.ok((json(got) as unknown as Span).end <= closedAt, 'close waited for it: PHP had finished when close returned');
  t.equal(server.pool.stats.workers, 0, 'then the workers are stopped');
  const late = await get(server, '/pid.php');
  t.equal(late.status, 503, 'new PHP requests get 503 after close');
});
