/**
 * PHP calling the server that runs it (WordPress's loopback and REST checks do): served by the
 * server itself with no allowlist entry and no other destination opened, and never a deadlock, with
 * one worker or several calls at once, because a self-call may use a self-call worker that visitors
 * never get, and otherwise waits no longer than the queue timeout.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import { isSelfDestination, selfDestinations } from '../server/sandbox/self-route.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { until } from './helpers/until.js';

type SelfCall = { pid: number; status: number | null; body: string | null; error: string | null };

async function selfCall(server: TestServer, query = ''): Promise<{ status: number; result: SelfCall }> {
  const response = await fetch(`${server.url}/self-call.php${query}`, { signal: AbortSignal.timeout(60_000) });
  return { status: response.status, result: (await response.json()) as SelfCall };
}

/** A TCP port that counts the connections it gets. */
async function countingPort(t: Test): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => { connections++; sockets.add(socket); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }));
  return { port: (server.address() as AddressInfo).port, connections: () => connections };
}

t.test('what means this server: loopback and the listen address at its port, and a plain-HTTP site URL', async (t) => {
  const wildcard = selfDestinations('0.0.0.0', 8087, undefined, ['127.0.0.1', '10.1.2.3', 'fe80::1']);
  t.same(wildcard.sort(), ['10.1.2.3:8087', '127.0.0.1:8087', '::1:8087', 'fe80::1:8087', 'localhost:8087'].sort(), 'a wildcard listener: every local address');
  t.same(selfDestinations('10.1.2.3', 80, undefined, ['10.9.9.9']).sort(), ['10.1.2.3:80', '127.0.0.1:80', '::1:80', 'localhost:80'].sort(), 'a specific listen address: that one and loopback');
  t.ok(selfDestinations('127.0.0.1', 8087, 'http://Blog.Example').includes('blog.example:80'), 'http site URL, default port');
  t.ok(selfDestinations('127.0.0.1', 8087, 'http://[2001:db8::5]:8080/wp').includes('2001:db8::5:8080'), 'an IPv6 site URL');
  t.notOk(selfDestinations('127.0.0.1', 8087, 'https://blog.example').some((d) => d.startsWith('blog.example')), 'an https site URL is not (TLS is the proxy\'s)');

  const route = { destinations: selfDestinations('127.0.0.1', 8087, 'http://blog.example'), targetPort: 40000 };
  t.ok(isSelfDestination('127.0.0.1', 8087, route));
  t.ok(isSelfDestination('[::1]', 8087, route), 'bracketed IPv6');
  t.ok(isSelfDestination('BLOG.example', 80, route), 'names compare case-insensitively');
  t.notOk(isSelfDestination('127.0.0.1', 8088, route), 'another port');
  t.notOk(isSelfDestination('127.0.0.1', 40000, route), 'not the self-call listener itself');
  t.notOk(isSelfDestination('blog.example.evil', 80, route));
  t.notOk(isSelfDestination('127.0.0.1', 8087, undefined), 'no route before the server listens');
});

t.test('with one worker and no allowlist, PHP fetches its own pages; nothing else opens', async (t) => {
  const server = await startTestServer({ workers: 1 });
  t.teardown(() => server.close());
  const other = await countingPort(t);

  const byAddress = await selfCall(server);
  t.equal(byAddress.status, 200);
  t.equal(byAddress.result.status, 200, `the self-call was answered (${byAddress.result.error ?? 'ok'})`);
  const inner = JSON.parse(byAddress.result.body ?? '{}') as { pid: number };
  t.not(inner.pid, byAddress.result.pid, 'by another worker than the one waiting for it');
  t.equal(server.pool.stats.selfCallWorkers, 1, 'a self-call worker');

  const byName = await selfCall(server, `?host=localhost:${server.port}`);
  t.equal(byName.result.status, 200, 'as localhost too');

  const vars = await selfCall(server, `?path=${encodeURIComponent('/server.php')}`);
  const seen = (JSON.parse(vars.result.body ?? '{}') as { server: Record<string, string> }).server;
  t.equal(seen.SERVER_PORT, String(server.port), 'PHP sees the port visitors use, not the self-call listener\'s');
  t.equal(seen.HTTP_HOST, `127.0.0.1:${server.port}`, 'and the Host it addressed');

  const elsewhere = await selfCall(server, `?host=127.0.0.1:${other.port}`);
  t.equal(elsewhere.result.status, null, 'another local port stays closed');
  t.match(elsewhere.result.error, /refused|failed/i);
  t.equal(other.connections(), 0, 'and got no connection');
});

t.test("the site URL's host and port reach the server without DNS or an allowlist entry", async (t) => {
  const server = await startTestServer({ workers: 1, siteUrl: 'http://blog.example.invalid:8999' });
  t.teardown(() => server.close());
  const { result } = await selfCall(server, '?host=blog.example.invalid:8999');
  t.equal(result.status, 200, `served (${result.error ?? 'ok'})`);
  t.match(result.body, /"pid":\d+/, 'by this server');
  const wrongPort = await selfCall(server, '?host=blog.example.invalid:9000');
  t.equal(wrongPort.result.status, null, 'another port of that name is not this server');
});

t.test('several self-calls at once with every worker busy all complete', async (t) => {
  const server = await startTestServer({ workers: 2 });
  t.teardown(() => server.close());
  const calls = await Promise.all(Array.from({ length: 5 }, () => selfCall(server, `?path=${encodeURIComponent('/pid-slow.php?ms=200')}`)));
  t.same(calls.map((c) => [c.status, c.result.status]), calls.map(() => [200, 200]), 'five callers, each answered by its self-call');
  t.equal(server.pool.stats.selfCallWorkers, 1, 'one self-call worker served them in turn');
});

t.test('a chain of self-calls deeper than the self-call workers ends in a 503 after the queue timeout, not a deadlock', async (t) => {
  const server = await startTestServer({ workers: 1, queueTimeout: 1 });
  t.teardown(() => server.close());
  // The self-call worker starts with the first self-call (its start-up may take longer than this queue timeout).
  await selfCall(server);
  await until('the self-call worker to be up', () => server.pool.stats.selfCallWorkers === 1 && server.pool.stats.starting === 0);
  const nested = encodeURIComponent(`/self-call.php?path=${encodeURIComponent('/pid.php')}`);
  const { status, result } = await selfCall(server, `?path=${nested}`);
  t.equal(status, 200, 'the outer page completes');
  const middle = JSON.parse(result.body ?? '{}') as SelfCall;
  t.equal(result.status, 200, 'the first self-call ran on the self-call worker');
  t.equal(middle.status, 503, 'its own self-call found no worker and was refused');
  t.match(server.logs.find((l) => l.msg === 'php request not served'), { status: 503 }, 'logged');
});

t.test('with --self-call-workers 0 and one worker, a self-call waits the queue timeout and is refused', async (t) => {
  const server = await startTestServer({ workers: 1, selfCallWorkers: 0, queueTimeout: 1 });
  t.teardown(() => server.close());
  const { status, result } = await selfCall(server);
  t.equal(status, 200, 'the page completes');
  t.equal(result.status, 503, 'its self-call got 503');
  t.equal(server.pool.stats.workers, 1, 'no worker was added');
});

t.test("a self-call's X-Forwarded-* are believed only with the server's token, which PHP never sees in a request", async (t) => {
  const server = await startTestServer({ workers: 2 });
  t.teardown(() => server.close());
  const without = (await (await fetch(`${server.url}/self-call-forwarded.php`)).json()) as { https: string | null; scheme: string };
  t.same([without.https, without.scheme], [null, 'http'], 'without the token: plain http');
  const vouched = (await (await fetch(`${server.url}/self-call-forwarded.php?token=1`)).json()) as { https: string | null; scheme: string; token_seen: boolean };
  t.same([vouched.https, vouched.scheme], ['on', 'https'], 'with it: https, as a trusted proxy would say');
  t.equal(vouched.token_seen, false, 'the token header is not passed to PHP');
  const visitor = await fetch(`${server.url}/server.php`, { headers: { 'x-forwarded-proto': 'https', 'x-php-wasm-server-self-call': 'guess' } });
  const seen = ((await visitor.json()) as { server: Record<string, string> }).server;
  t.same([seen.HTTPS, seen.HTTP_X_PHP_WASM_SERVER_SELF_CALL], [undefined, undefined], 'a visitor sending the header gets nothing from it');
});
