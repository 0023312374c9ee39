/**
 * The server owns message framing (RFC 9112 §6): over raw sockets against a real php.wasm worker,
 * PHP's Content-Length is honoured, never exceeded (extra output would be read as a second
 * response on a keep-alive connection), and a body that ends short closes the connection.
 */
import { connect } from 'node:net';
import t from 'tap';
import { DeclaredLengthBody, declaredLength, ShortBodyError } from '../server/response-framing.js';
import { FIXTURE_DOCROOT, startTestServer, type TestServer } from './helpers/server.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

let server: TestServer;
t.before(async () => {
  server = await startTestServer({ workers: 1 });
});
t.teardown(() => server?.close());

/** Writes `request` on one connection and collects everything until the server closes it (or 20 s). */
function exchange(request: string): Promise<{ data: Buffer; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => { socket.destroy(); resolve({ data: Buffer.concat(chunks), closedByServer: false }); }, 20_000);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => { clearTimeout(timer); resolve({ data: Buffer.concat(chunks), closedByServer: true }); });
    socket.write(request);
  });
}

/** Splits a byte stream into responses by their own framing (Content-Length only: that is what is tested). */
function responses(data: Buffer): Array<{ status: number; headers: Record<string, string>; body: string }> {
  const out = [];
  let at = 0;
  while (at < data.length) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end === -1) throw new Error(`not a response head at byte ${at}: ${JSON.stringify(data.subarray(at, at + 40).toString('latin1'))}`);
    const [statusLine, ...lines] = data.subarray(at, end).toString('latin1').split('\r\n');
    if (!/^HTTP\/1\.1 \d{3}/.test(statusLine)) throw new Error(`not a status line: ${JSON.stringify(statusLine.slice(0, 40))}`);
    const headers: Record<string, string> = {};
    for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
    const length = Number(headers['content-length'] ?? 0);
    out.push({ status: Number(statusLine.split(' ')[1]), headers, body: data.subarray(end + 4, end + 4 + length).toString('latin1') });
    at = end + 4 + length;
  }
  return out;
}

const get = (path: string, method = 'GET') => `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
const last = (path: string) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`;

for (const flush of ['0', '1']) {
  t.test(`more output than Content-Length (${flush === '1' ? 'streamed' : 'complete'}): cut, and the next pipelined response is intact`, async (t) => {
    const before = server.logs.length;
    const { data } = await exchange(get(`/content-length.php?declared=5&size=10005&flush=${flush}`) + last('/hello.txt'));
    const [first, second, ...more] = responses(data);
    t.equal(first.status, 200);
    t.equal(first.headers['content-length'], '5');
    t.equal(first.body, 'xxxxx', 'exactly the declared bytes');
    t.equal(second?.status, 200, 'the second response is a real response');
    t.equal(second?.body, readFileSync(join(FIXTURE_DOCROOT, 'hello.txt'), 'latin1'), 'with its own body');
    t.same(more, [], 'nothing else on the connection');
    t.ok(server.logs.slice(before).some((l) => l.msg === "php output beyond its Content-Length; cut" && l.cut === 10000), 'the cut is logged');
  });

  t.test(`less output than Content-Length (${flush === '1' ? 'streamed' : 'complete'}): the connection closes instead of hanging`, async (t) => {
    const { data, closedByServer } = await exchange(get(`/content-length.php?declared=100&size=10&flush=${flush}`));
    t.ok(closedByServer, 'the server closed the connection');
    const text = data.toString('latin1');
    t.match(text, /content-length: 100\r\n/i);
    t.equal(text.slice(text.indexOf('\r\n\r\n') + 4), 'xxxxxyyyyy', 'what PHP sent, and no more');
  });
}

t.test('HEAD keeps PHP\'s Content-Length and sends no body; a correct length passes untouched', async (t) => {
  const { data } = await exchange(get('/content-length.php?declared=5&size=5', 'HEAD') + last('/content-length.php?declared=7&size=7'));
  const text = data.toString('latin1');
  const [head, rest] = [text.slice(0, text.indexOf('\r\n\r\n') + 4), text.slice(text.indexOf('\r\n\r\n') + 4)];
  t.match(head, /content-length: 5\r\n/i, 'HEAD: the declared length');
  t.match(rest, /^HTTP\/1\.1 200/, 'HEAD: no body before the next response');
  t.equal(responses(Buffer.from(rest, 'latin1'))[0].body, 'xxxyyyy');
});

t.test('declaredLength and DeclaredLengthBody', async (t) => {
  t.equal(declaredLength(undefined), null);
  t.equal(declaredLength('42'), 42);
  t.equal(declaredLength('42, 42'), 42, 'repeated equal values are one length');
  t.equal(declaredLength(['7', '7']), 7);
  for (const bad of ['', '-1', '1e3', '0x10', '5, 6', 'abc', '9999999999999999']) t.equal(declaredLength(bad), 'invalid', JSON.stringify(bad));
  const cut: number[] = [];
  const body = new DeclaredLengthBody(4, (bytes) => cut.push(bytes));
  const out: Buffer[] = [];
  body.on('data', (chunk: Buffer) => out.push(chunk));
  body.write(Buffer.from('ab'));
  body.write(Buffer.from('cdef'));
  body.write(Buffer.from('gh'));
  body.end();
  await new Promise((resolve) => body.on('end', resolve));
  t.equal(Buffer.concat(out).toString(), 'abcd');
  t.same(cut, [4]);
  const short = new DeclaredLengthBody(4, () => undefined);
  const failed = new Promise((resolve) => short.on('error', resolve));
  short.resume();
  short.end(Buffer.from('ab'));
  t.ok((await failed) instanceof ShortBodyError);
});
