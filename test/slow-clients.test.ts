/**
 * Limits for slow and abusive clients, over raw sockets against the real server: a slowloris
 * attack (heads trickled a byte at a time) is cut off by --header-timeout while a normal client is
 * served; oversized heads get 431; idle keep-alive connections close after --keepalive-timeout;
 * a connection carries at most --max-requests-per-connection requests.
 */
import { connect, type Socket } from 'node:net';
import t from 'tap';
import { startTestServer, type TestServer } from './helpers/server.js';
import { until } from './helpers/until.js';

let server: TestServer;
t.before(async () => {
  server = await startTestServer({ workers: 1, headerTimeout: 2, keepAliveTimeout: 1, maxRequestsPerConnection: 3 });
});
t.teardown(() => server?.close());

interface Conn { socket: Socket; received: () => string; closed: Promise<void> }

function open(): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1');
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => { data += chunk; });
    const closed = new Promise<void>((done) => socket.on('close', () => done()));
    socket.once('error', () => undefined);
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

async function within<T>(what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const failed = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms); });
  try {
    return await Promise.race([promise, failed]);
  } finally {
    clearTimeout(timer);
  }
}

t.test('slowloris: 50 trickling heads are cut off by the header timeout; a normal client is served meanwhile', async (t) => {
  const attackers = await Promise.all(Array.from({ length: 50 }, () => open()));
  for (const { socket } of attackers) socket.write('GET /pid.php HTTP/1.1\r\nHost: 127.0.0.1\r\n');
  // The attack: one more header byte every 200 ms, for as long as the server keeps the socket.
  const trickle = setInterval(() => {
    for (const { socket } of attackers) if (!socket.destroyed) socket.write('X');
  }, 200);
  t.teardown(() => clearInterval(trickle));

  const normal = await within('a normal request during the attack', fetch(`${server.url}/pid.php`), 15_000);
  t.equal(normal.status, 200, 'a normal client is served during the attack');
  t.match(await normal.text(), /"pid"/);

  await within('every trickling connection to be closed by the server', Promise.all(attackers.map((a) => a.closed)), 30_000);
  clearInterval(trickle);
  t.ok(attackers.every((a) => a.socket.destroyed), 'all 50 attack connections closed');
  t.ok(attackers.every((a) => /^HTTP\/1\.1 408 /.test(a.received())), 'each told 408 Request Timeout');
  t.equal((await fetch(`${server.url}/pid.php`)).status, 200, 'and the server serves on');
});

t.test('a request head over --max-header-size gets 431; one under it is served', async (t) => {
  const big = await fetch(`${server.url}/pid.php`, { headers: { cookie: 'a='.padEnd(20 * 1024, 'x') } });
  t.equal(big.status, 431);
  const fits = await fetch(`${server.url}/pid.php`, { headers: { cookie: 'a='.padEnd(10 * 1024, 'x') } });
  t.equal(fits.status, 200, 'the default (16K) leaves room for large cookies');
});

t.test('an idle keep-alive connection is closed after --keepalive-timeout', async (t) => {
  const conn = await open();
  conn.socket.write('GET /hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  await within('the server to close the idle connection', conn.closed, 15_000);
  t.match(conn.received(), /^HTTP\/1\.1 200 /, 'the request was answered');
  t.match(conn.received(), /keep-alive: timeout=1\b/i, 'the client is told the timeout');
});

t.test('a connection carries at most --max-requests-per-connection requests', async (t) => {
  const conn = await open();
  for (let i = 0; i < 3; i++) conn.socket.write('GET /hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  await within('the server to close the connection after the third response', conn.closed, 15_000);
  const responses = conn.received().split(/(?=HTTP\/1\.1 )/);
  t.equal(responses.length, 3, 'three responses');
  t.ok(responses.every((r) => r.startsWith('HTTP/1.1 200')), 'all answered');
  t.match(responses[2], /connection: close\r\n/i, 'the third says the connection ends');
});

t.test('the connection ends after the limit even when the client keeps sending: never a 503', async (t) => {
  // keep-alive far longer than the test waits: the close can only come from the request limit.
  const longLived = await startTestServer({ workers: 1, keepAliveTimeout: 120, maxRequestsPerConnection: 3 });
  t.teardown(() => longLived.close());
  const conn = await new Promise<Conn>((resolve, reject) => {
    const socket = connect(longLived.port, '127.0.0.1');
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => { data += chunk; });
    const closed = new Promise<void>((done) => socket.on('close', () => done()));
    socket.once('error', () => undefined);
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
  let ended = false;
  void conn.closed.then(() => { ended = true; });
  const responses = () => conn.received().split(/(?=HTTP\/1\.1 )/).filter(Boolean);
  // One request at a time, each after the previous answer, as a keep-alive client (or autocannon) does.
  for (let i = 1; i <= 4 && !ended; i++) {
    conn.socket.write('GET /hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await until(`response ${i} or the close`, () => ended || (responses().length >= i && (responses()[i - 1] ?? '').includes('\r\n\r\n')), 15_000);
  }
  await within('the server to close the connection after the third response', conn.closed, 15_000);
  const got = responses();
  t.equal(got.length, 3, 'three responses, then the connection ended');
  t.ok(got.every((r) => r.startsWith('HTTP/1.1 200')), 'all 200: no 503 for a request after the limit');
  t.match(got[2], /connection: close\r\n/i, 'the third says the connection ends');
});

