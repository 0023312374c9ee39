/**
 * Request bodies: a deadline a trickle cannot defeat (--body-timeout, extended by --body-min-rate),
 * and large bodies spooled to a private file while they wait for a worker instead of held in
 * memory. Raw sockets and real HTTP against the real server and php.wasm.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startTestServer, type TestServer } from './helpers/server.js';
import { until } from './helpers/until.js';

// This file's own temporary folder: the spool folder the server makes lands here, where the test can see it.
const testTmp = mkdtempSync(join(tmpdir(), 'pws-body-test-'));
process.env.TMPDIR = testTmp;
t.teardown(() => rmSync(testTmp, { recursive: true, force: true }));

let server: TestServer;
t.before(async () => {
  server = await startTestServer({ workers: 1, bodyTimeout: 1, bodyMinRate: 1000, queueTimeout: 60 });
});
t.teardown(() => server?.close());

/** A socket that sends a head announcing `length` bytes, then body bytes as the test says. */
function openUpload(length: number): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1');
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => { data += chunk; });
    const closed = new Promise<void>((done) => socket.on('close', () => done()));
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => undefined);
      socket.write(`POST /body-digest.php HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\nContent-Length: ${length}\r\n\r\n`);
      resolve({ socket, received: () => data, closed });
    });
  });
}

/** Sends `total` bytes in `step`-byte pieces, one every `everyMs`, until done or the socket closes. */
async function trickle(socket: Socket, total: number, step: number, everyMs: number): Promise<void> {
  for (let sent = 0; sent < total && !socket.destroyed; sent += step) {
    socket.write(Buffer.alloc(Math.min(step, total - sent), 97));
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

t.test('a body trickled slower than --body-min-rate is cut off with 408 while others are served', async (t) => {
  const uploads = await Promise.all(Array.from({ length: 10 }, () => openUpload(1024 * 1024)));
  // A byte every 200 ms: each socket stays "active", which a between-reads timeout never cuts.
  const trickles = uploads.map((upload) => trickle(upload.socket, 1024 * 1024, 1, 200));
  const normal = await fetch(`${server.url}/body-digest.php`, { method: 'POST', body: 'hello' });
  t.same(await normal.json(), { size: 5, md5: createHash('md5').update('hello').digest('hex'), content_length: '5' }, 'a normal client is served meanwhile');
  await until('every trickling socket to be closed by the server', () => uploads.every((upload) => upload.socket.destroyed || upload.socket.readyState === 'closed'));
  await Promise.all(trickles);
  for (const upload of uploads) t.match(upload.received(), /^HTTP\/1\.1 408 /, '408, then the connection closes');
  t.ok(server.logs.some((line) => line.msg === 'request failed' && /too slow/.test(String((line.err as { message?: string })?.message))), 'logged');
});

t.test('a client at the minimum rate gets past --body-timeout: the deadline grows with what arrived', async (t) => {
  const total = 4000; // 4 s of deadline at 1000 B/s, plus 1 s; sent at about 2000 B/s
  const upload = await openUpload(total);
  await trickle(upload.socket, total, 200, 100);
  await until('the answer', () => upload.received().includes('}') || upload.socket.destroyed);
  t.match(upload.received(), /^HTTP\/1\.1 200 /);
  t.match(upload.received(), /"size":4000/);
  upload.socket.destroy();
});

t.test('a large body waits for a worker in a private spool file, reaches PHP whole, and is removed after', async (t) => {
  const busy = fetch(`${server.url}/body-digest.php?hold=400`, { method: 'POST', body: 'x' });
  await until('the worker to be busy', () => server.pool.stats.busy === 1);
  const big = Buffer.alloc(5 * 1024 * 1024 + 17);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
  const upload = fetch(`${server.url}/body-digest.php`, { method: 'POST', body: big, headers: { 'content-type': 'application/octet-stream' } });
  const spoolDir = () => readdirSync(testTmp).find((name) => name.startsWith('php-wasm-server-bodies-'));
  await until('the body to be spooled', () => { const dir = spoolDir(); return dir !== undefined && readdirSync(join(testTmp, dir)).length === 1; });
  t.pass('spooled while it waited');
  t.equal((await busy).status, 200);
  const answer = await upload;
  t.same(await answer.json(), { size: big.length, md5: createHash('md5').update(big).digest('hex'), content_length: String(big.length) }, 'PHP got every byte');
  await until('the spool file to go', () => readdirSync(join(testTmp, spoolDir()!)).length === 0);
  t.pass('removed once the request ended');
});

t.test('a large body for a request that never reaches PHP (405, 403) leaves no spool file behind', async (t) => {
  const big = Buffer.alloc(3 * 1024 * 1024, 1);
  const spoolDir = () => readdirSync(testTmp).find((name) => name.startsWith('php-wasm-server-bodies-'));
  for (const path of ['/hello.txt', '/.env']) {
    const response = await fetch(`${server.url}${path}`, { method: 'POST', body: big, headers: { 'content-type': 'application/octet-stream' } });
    t.ok(response.status >= 400 && response.status < 500, `${path}: ${response.status}`);
    await response.arrayBuffer();
  }
  await until('the spool folder to be empty', () => { const dir = spoolDir(); return dir === undefined || readdirSync(join(testTmp, dir)).length === 0; });
  t.pass('no file left');
});
