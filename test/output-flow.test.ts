/**
 * PHP's output flows at the client's pace: a client that does not read blocks PHP once about a
 * window of output is in flight (memory stays bounded), that time does not count against
 * --request-timeout, --send-timeout gives up on it, and PHP then sees an aborted connection. A
 * client that leaves mid-response stops the script at its next output unless it called
 * ignore_user_abort(true). Real php.wasm, raw sockets.
 */
import { existsSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { startTestServer, tempDir } from './helpers/server.js';
import { until } from './helpers/until.js';

const MB = 1024 * 1024;
type Outcome = { sent: number; aborted: number; pid: number };


/** The outcome a script wrote at its end; undefined until the file is there and complete. */
function readOutcome(path: string): Outcome | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Outcome;
  } catch {
    return undefined; // still being written
  }
}

function request(port: number, path: string): { socket: Socket; received: () => number } {
  const socket = connect(port, '127.0.0.1');
  let received = 0;
  socket.on('data', (chunk: Buffer) => { received += chunk.length; });
  socket.on('error', () => undefined);
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  return { socket, received: () => received };
}

t.test('a client that reads nothing: PHP blocks after a bounded amount, is not timed out for it, and is cut off by --send-timeout', async (t) => {
  const data = tempDir(t, 'pws-flow-');
  const server = await startTestServer({ workers: 1, requestTimeout: 1, sendTimeout: 3, compress: false, mounts: [{ host: data, guest: '/data', readOnly: false }] });
  t.teardown(() => server.close());
  const outcome = join(data, 'stalled.json');

  const client = request(server.port, '/stream-progress.php?id=stalled&chunks=1024&kb=64'); // 64 MB
  client.socket.pause(); // never reads: the kernel's buffers fill, then the server's, then PHP waits
  let result: Outcome | undefined;
  await until('PHP to be stopped', () => (result = readOutcome(outcome)) !== undefined);
  t.ok(result!.sent < 24 * MB, `PHP got out ${(result!.sent / MB).toFixed(1)} MB of 64 before it had to wait`);
  t.equal(result!.aborted, 1, 'PHP saw the connection aborted once the send timeout gave up on the client');
  t.notOk(server.logs.some((line) => line.msg === 'request timed out; terminating worker'), 'waiting for the client did not count against the 1 s request timeout');
  t.ok(server.logs.some((line) => line.msg === 'client took no data within the send timeout; response cut'), 'logged');
  client.socket.destroy();
  const next = await fetch(`${server.url}/pid.php`);
  t.equal(((await next.json()) as { pid: number }).pid, result!.pid, 'the same worker serves the next request');
});

t.test('a client that leaves mid-response: the script stops at its next output, unless it ignores user aborts', async (t) => {
  const data = tempDir(t, 'pws-flow-');
  const server = await startTestServer({ workers: 1, compress: false, mounts: [{ host: data, guest: '/data', readOnly: false }] });
  t.teardown(() => server.close());

  for (const ignore of [false, true]) {
    const id = ignore ? 'ignoring' : 'stopping';
    const client = request(server.port, `/stream-progress.php?id=${id}&chunks=100&kb=1&sleep=20${ignore ? '&ignore=1' : ''}`);
    await until('the first output', () => client.received() > 1024);
    client.socket.destroy();
    let result: Outcome | undefined;
    await until(`the ${id} script to end`, () => (result = readOutcome(join(data, `${id}.json`))) !== undefined);
    t.equal(result!.aborted, 1, `${id}: connection_aborted() is 1`);
    if (ignore) t.equal(result!.sent, 100 * 1024, 'with ignore_user_abort(true) it runs to the end');
    else t.ok(result!.sent < 100 * 1024, `without, it stopped at its next output (${result!.sent / 1024} of 100 chunks)`);
  }
  await until('both access lines', () => server.logs.filter((line) => line.msg === 'request' && String(line.path).startsWith('/stream-progress.php')).length === 2);
  const lines = server.logs.filter((line) => line.msg === 'request' && String(line.path).startsWith('/stream-progress.php'));
  t.ok(lines.every((line) => line.status === 499), 'logged as 499');
});

t.test('one echo larger than the window goes out whole (it is sent in pieces as the client takes them)', async (t) => {
  const data = tempDir(t, 'pws-flow-');
  const server = await startTestServer({ workers: 1, mounts: [{ host: data, guest: '/data', readOnly: false }] });
  t.teardown(() => server.close());
  const response = await fetch(`${server.url}/stream-progress.php?id=one&chunks=1&kb=${8 * 1024}`, { signal: AbortSignal.timeout(30_000) });
  t.equal(response.status, 200);
  t.equal((await response.arrayBuffer()).byteLength, 8 * MB, 'all 8 MB of a single echo');
});
