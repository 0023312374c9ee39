/**
 * A client that disconnects while its request waits for a worker costs no worker: the request
 * leaves the queue and never runs; its access line says 499. Real php.wasm, raw sockets.
 */
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { startTestServer, tempDir } from './helpers/server.js';
import { until } from './helpers/until.js';


t.test('queued requests whose clients left are dropped before they run, and logged as 499', async (t) => {
  const data = tempDir(t, 'pws-gone-');
  const server = await startTestServer({ workers: 1, mounts: [{ host: data, guest: '/data', readOnly: false }] });
  t.teardown(() => server.close());

  const busy = fetch(`${server.url}/sleep.php?ms=3000`);
  await until('the only worker to be busy', () => server.pool.stats.busy === 1);
  const sockets = Array.from({ length: 5 }, (_, i) => {
    const socket = connect(server.port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(`GET /record-run.php?id=gone-${i} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    return socket;
  });
  await until('five requests to wait in the queue', () => server.pool.stats.queued === 5);
  for (const socket of sockets) socket.destroy();
  await until('the queue to empty as the clients leave', () => server.pool.stats.queued === 0);
  t.equal(server.pool.stats.busy, 1, 'while the first request still holds the worker: they left, they did not run');

  const stays = fetch(`${server.url}/record-run.php?id=stays`);
  t.equal(await (await busy).text(), 'slept');
  t.equal(await (await stays).text(), 'ran', 'a client that stays is served');
  const runs = existsSync(join(data, 'runs')) ? readFileSync(join(data, 'runs'), 'utf8').trim().split('\n') : [];
  t.same(runs, ['stays'], 'no dropped request ever reached PHP');

  await until('the access lines of the dropped requests', () => server.logs.filter((l) => l.msg === 'request' && String(l.path).includes('gone-')).length === 5);
  const lines = server.logs.filter((l) => l.msg === 'request' && String(l.path).includes('gone-'));
  t.ok(lines.every((l) => l.status === 499), 'logged as 499, not 200');
  t.ok(lines.every((l) => l.worker === undefined), 'no worker served them');
});

t.test('with the queue full, a request body is refused with 503 before it is read', async (t) => {
  const server = await startTestServer({ workers: 1, queueLimit: 1 });
  t.teardown(() => server.close());
  const running = fetch(`${server.url}/sleep.php?ms=3000`);
  await until('the worker to be busy', () => server.pool.stats.busy === 1);
  const waiting = fetch(`${server.url}/sleep.php?ms=1`);
  await until('the queue to be full', () => server.pool.stats.queued === 1);

  // Headers announcing 50 MB, and not one byte of the body: the answer must come anyway.
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1').on('data', (chunk: string) => { text += chunk; });
    socket.on('close', () => resolve(text)).on('error', reject);
    socket.write('POST /server.php HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 52428800\r\n\r\n');
  });
  t.match(answer, /^HTTP\/1\.1 503 /, '503 before any body byte was sent');
  t.match(answer, /retry-after: \d+\r\n/i);
  t.match(answer, /connection: close\r\n/i, 'and the connection closes (the body is never read)');
  await Promise.all([running, waiting].map(async (r) => (await r).text()));
  t.equal((await fetch(`${server.url}/server.php`, { method: 'POST', body: 'a=1' })).status, 200, 'bodies are read again once there is room');
});
