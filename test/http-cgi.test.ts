/**
 * CGI/1.1 over real HTTP against real php.wasm workers: the meta-variables PHP sees, request bodies
 * in every shape, and the CGI response (Status:, Location, Set-Cookie, HEAD, streaming, errors, logs).
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import t from 'tap';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, tempDir, type TestServer } from './helpers/server.js';
import { until } from './helpers/until.js';

interface RawResponse {
  status: number;
  headers: Record<string, string[]>;
  body: Buffer;
  /** The socket's own port, as the server saw it in REMOTE_PORT. */
  localPort: number;
}

/** Sends bytes as they are (no normalisation) and reads the response until the server closes. */
function rawRequest(port: number, request: string | Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let localPort = 0;
    const socket = net.connect(port, '127.0.0.1', () => {
      localPort = socket.localPort ?? 0;
      socket.write(request);
    });
    const timer = setTimeout(() => socket.destroy(new Error('raw request timed out')), 15_000);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (error) => { clearTimeout(timer); reject(error); });
    socket.on('close', () => {
      clearTimeout(timer);
      try {
        resolve({ ...parseResponse(Buffer.concat(chunks)), localPort });
      } catch (error) {
        reject(error);
      }
    });
  });
}

function parseResponse(data: Buffer): Omit<RawResponse, 'localPort'> {
  const end = data.indexOf('\r\n\r\n');
  if (end === -1) throw new Error(`no complete response head in ${JSON.stringify(data.toString('latin1').slice(0, 200))}`);
  const [statusLine, ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string[]> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    (headers[name] ??= []).push(line.slice(colon + 1).trim());
  }
  let body = data.subarray(end + 4);
  if (headers['transfer-encoding']?.[0]?.toLowerCase() === 'chunked') body = dechunk(body);
  return { status: Number(statusLine.split(' ')[1]), headers, body };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (!size) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

type Echo = {
  server: Record<string, string>;
  get: Record<string, unknown>;
  post: Record<string, unknown>;
  cookie: Record<string, string>;
  files: Record<string, { name: string | string[]; type: string | string[]; size: number | number[]; error: number | number[]; sha1: string | string[] }>;
  input: string;
  env: Record<string, string>;
};

const json = (response: RawResponse): Echo => JSON.parse(response.body.toString('utf8'));
const sha1 = (data: Buffer | Uint8Array) => createHash('sha1').update(data).digest('hex');

let server: TestServer;
/** trustProxy 127.0.0.1, a 1 KiB body limit and assertions on: everything the default server must not do. */
let proxied: TestServer;

/** Writable at /data for the default server: flush-gate.php waits while /data/gate exists. */
const dataDir = tempDir(t);

t.before(async () => {
  [server, proxied] = await Promise.all([
    startTestServer({ mounts: [{ host: dataDir, guest: '/data', readOnly: false }] }),
    startTestServer({ workers: 1, trustProxy: ['127.0.0.1'], maxBody: 1024, ini: { 'zend.assertions': '1' } }),
  ]);
});
t.teardown(async () => {
  await Promise.all([server?.close(), proxied?.close()]);
});

const get = (path: string, headers: Record<string, string> = {}) =>
  rawRequest(server.port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}Connection: close\r\n\r\n`);

t.test('CGI meta-variables as PHP sees them in $_SERVER', async (t) => {
  const response = await rawRequest(server.port, [
    'GET /server.php/a%20b/c?x=%20y&name=J%C3%BCrgen&plus=a+b HTTP/1.1',
    `Host: Localhost:${server.port}`,
    'X-Custom-Header: custom value',
    'X_Spoofed: underscore',
    'Connection: close',
    '', '',
  ].join('\r\n'));
  t.equal(response.status, 200);
  const s = json(response).server;
  t.equal(s.GATEWAY_INTERFACE, 'CGI/1.1');
  t.match(s.SERVER_SOFTWARE, /^php-wasm-server\/\d+\.\d+\.\d+/);
  t.equal(s.SERVER_NAME, 'localhost', 'SERVER_NAME is the host without the port');
  t.equal(s.SERVER_PORT, String(server.port), 'SERVER_PORT is the real listening port, not 80');
  t.equal(s.SERVER_PROTOCOL, 'HTTP/1.1');
  t.equal(s.REQUEST_METHOD, 'GET');
  t.equal(s.REQUEST_URI, '/server.php/a%20b/c?x=%20y&name=J%C3%BCrgen&plus=a+b', 'REQUEST_URI exactly as sent');
  t.equal(s.QUERY_STRING, 'x=%20y&name=J%C3%BCrgen&plus=a+b', 'QUERY_STRING exactly as sent');
  t.equal(s.SCRIPT_NAME, '/server.php');
  t.equal(s.SCRIPT_FILENAME, '/docroot/server.php');
  t.equal(s.PATH_INFO, '/a b/c', 'PATH_INFO is decoded');
  t.equal(s.PATH_TRANSLATED, '/docroot/a b/c');
  t.equal(s.PHP_SELF, '/server.php/a b/c');
  t.equal(s.DOCUMENT_ROOT, '/docroot');
  t.equal(s.REMOTE_ADDR, '127.0.0.1');
  t.equal(s.REMOTE_PORT, String(response.localPort), "REMOTE_PORT is the client socket's port");
  t.equal(s.REQUEST_SCHEME, 'http');
  t.notOk('HTTPS' in s, 'no HTTPS key at all over plain http');
  t.equal(s.HTTP_HOST, `Localhost:${server.port}`);
  t.equal(s.HTTP_X_CUSTOM_HEADER, 'custom value', 'custom headers become HTTP_*');
  t.notOk('HTTP_X_SPOOFED' in s, 'a header name with "_" is dropped (it could pose as X-Spoofed)');
  t.notOk('CONTENT_LENGTH' in s, 'no CONTENT_LENGTH without a body');
  t.same(json(response).get, { x: ' y', name: 'Jürgen', plus: 'a b' }, '$_GET decodes the query');
});

t.test('without PATH_INFO there is no PATH_INFO or PATH_TRANSLATED; HTTP/1.0 without Host works', async (t) => {
  const response = await rawRequest(server.port, 'GET /server.php HTTP/1.0\r\n\r\n');
  t.equal(response.status, 200);
  const s = json(response).server;
  t.equal(s.SERVER_PROTOCOL, 'HTTP/1.0');
  t.equal(s.SERVER_NAME, '127.0.0.1', 'SERVER_NAME falls back to the local address');
  t.equal(s.SERVER_PORT, String(server.port));
  t.notOk('PATH_INFO' in s);
  t.notOk('PATH_TRANSLATED' in s);
  t.equal(s.PHP_SELF, '/server.php');
  t.equal(s.QUERY_STRING, '');
});

t.test('CONTENT_TYPE and CONTENT_LENGTH for a body', async (t) => {
  const body = 'a=1&b=two+words&c=%26';
  const response = await fetch(`${server.url}/server.php`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  const echo = (await response.json()) as Echo;
  t.equal(echo.server.REQUEST_METHOD, 'POST');
  t.equal(echo.server.CONTENT_TYPE, 'application/x-www-form-urlencoded');
  t.equal(echo.server.CONTENT_LENGTH, String(body.length));
  t.notOk('HTTP_CONTENT_TYPE' in echo.server, 'no HTTP_CONTENT_TYPE duplicate');
  t.notOk('HTTP_CONTENT_LENGTH' in echo.server, 'no HTTP_CONTENT_LENGTH duplicate');
  t.same(echo.post, { a: '1', b: 'two words', c: '&' }, '$_POST urlencoded');
  t.equal(echo.input, body, 'php://input holds the raw body');
});

t.test('a repeated header is joined with ", "', async (t) => {
  const response = await get('/server.php', { 'X-Multi': 'one', 'x-multi': 'two' });
  t.equal(json(response).server.HTTP_X_MULTI, 'one, two');
});

t.test('httpoxy: a Proxy header never becomes HTTP_PROXY', async (t) => {
  const response = await get('/server.php', { Proxy: 'http://evil.example:3128' });
  t.equal(response.status, 200);
  const echo = json(response);
  t.notOk('HTTP_PROXY' in echo.server, 'not in $_SERVER');
  t.notOk('HTTP_PROXY' in echo.env, 'not in getenv()');
  t.notMatch(response.body.toString(), /evil\.example/, 'the value appears nowhere');
});

const forwardedHeaders = {
  'X-Forwarded-For': '203.0.113.7',
  'X-Forwarded-Proto': 'https',
  'X-Forwarded-Host': 'public.example',
  'X-Forwarded-Port': '8443',
};

t.test('behind a trusted proxy, X-Forwarded-* set the client, scheme, host and port', async (t) => {
  const response = await rawRequest(proxied.port, `GET /server.php HTTP/1.1\r\nHost: 127.0.0.1:${proxied.port}\r\n${Object.entries(forwardedHeaders).map(([k, v]) => `${k}: ${v}\r\n`).join('')}Connection: close\r\n\r\n`);
  const s = json(response).server;
  t.equal(s.REMOTE_ADDR, '203.0.113.7');
  t.equal(s.HTTPS, 'on');
  t.equal(s.REQUEST_SCHEME, 'https');
  t.equal(s.HTTP_HOST, 'public.example:8443', 'the public authority: forwarded host and port');
  t.equal(s.SERVER_NAME, 'public.example');
  t.equal(s.SERVER_PORT, '8443');
});

t.test('behind a trusted proxy, an untrusted hop in X-Forwarded-For is the client', async (t) => {
  const response = await rawRequest(proxied.port, `GET /server.php HTTP/1.1\r\nHost: public.example\r\nX-Forwarded-For: 6.6.6.6, 198.51.100.2\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n`);
  const s = json(response).server;
  t.equal(s.REMOTE_ADDR, '198.51.100.2', 'the spoofable left-most entry is not believed');
  t.equal(s.SERVER_NAME, 'public.example');
  t.equal(s.SERVER_PORT, '443', 'https without a port → 443');
  t.equal(s.HTTPS, 'on');
});

t.test('without trustProxy, X-Forwarded-* change nothing', async (t) => {
  const response = await get('/server.php', forwardedHeaders);
  const s = json(response).server;
  t.equal(s.REMOTE_ADDR, '127.0.0.1');
  t.notOk('HTTPS' in s);
  t.equal(s.REQUEST_SCHEME, 'http');
  t.equal(s.HTTP_HOST, `127.0.0.1:${server.port}`);
  t.equal(s.SERVER_NAME, '127.0.0.1');
  t.equal(s.SERVER_PORT, String(server.port));
});

t.test('a chunked request body reaches php://input and $_POST', async (t) => {
  const response = await rawRequest(server.port, [
    'POST /server.php HTTP/1.1',
    'Host: x',
    'Content-Type: application/x-www-form-urlencoded',
    'Transfer-Encoding: chunked',
    'Connection: close',
    '',
    '5', 'a=one', '8', '&b=two%3', '1', 'D', '0', '', '',
  ].join('\r\n'));
  t.equal(response.status, 200);
  const echo = json(response);
  t.equal(echo.input, 'a=one&b=two%3D');
  t.same(echo.post, { a: 'one', b: 'two=' });
  t.equal(echo.server.CONTENT_LENGTH, '14', 'CONTENT_LENGTH is the de-chunked size');
});

t.test('$_COOKIE from a Cookie header', async (t) => {
  const response = await get('/server.php', { Cookie: 'session=abc123; theme=dark%20blue' });
  const echo = json(response);
  t.same(echo.cookie, { session: 'abc123', theme: 'dark blue' });
  t.equal(echo.server.HTTP_COOKIE, 'session=abc123; theme=dark%20blue');
});

t.test('$_FILES: one file, an array of files, binary content intact', async (t) => {
  const binary = Buffer.concat([Buffer.from([0, 1, 2, 255, 13, 10, 13, 10, 45, 45]), randomBytes(100_000)]);
  const second = randomBytes(3000);
  const form = new FormData();
  form.append('title', 'with files');
  form.append('single', new Blob([binary], { type: 'application/octet-stream' }), 'blob.bin');
  form.append('files[]', new Blob(['first text file\n'], { type: 'text/plain' }), 'a.txt');
  form.append('files[]', new Blob([second], { type: 'image/png' }), 'b.png');
  const response = await fetch(`${server.url}/server.php`, { method: 'POST', body: form });
  t.equal(response.status, 200);
  const echo = (await response.json()) as Echo;
  t.match(echo.server.CONTENT_TYPE, /^multipart\/form-data; boundary=/);
  t.same(echo.post, { title: 'with files' });
  t.equal(echo.files.single.name, 'blob.bin');
  t.equal(echo.files.single.error, 0);
  t.equal(echo.files.single.size, binary.length);
  t.equal(echo.files.single.sha1, sha1(binary), 'binary upload is byte-identical');
  t.same(echo.files.files.name, ['a.txt', 'b.png'], 'files[] becomes an array');
  t.same(echo.files.files.type, ['text/plain', 'image/png']);
  t.same(echo.files.files.error, [0, 0]);
  t.same(echo.files.files.sha1, [sha1(Buffer.from('first text file\n')), sha1(second)]);
});

t.test('a ~20 MB upload within the default 64 MiB limit', async (t) => {
  const big = randomBytes(20 * 1024 * 1024);
  const form = new FormData();
  form.append('big', new Blob([big]), 'big.bin');
  const response = await fetch(`${server.url}/server.php`, { method: 'POST', body: form });
  t.equal(response.status, 200);
  const echo = (await response.json()) as Echo;
  t.equal(echo.files.big.error, 0, 'no upload error (upload_max_filesize follows the body limit)');
  t.equal(echo.files.big.size, big.length);
  t.equal(echo.files.big.sha1, sha1(big));
});

t.test('a body over --max-body gets 413, and the server keeps serving', async (t) => {
  const body = 'x'.repeat(2000);
  const post = await fetch(`${proxied.url}/server.php`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
  t.equal(post.status, 413, 'POST with Content-Length');
  await post.arrayBuffer();

  const chunked = await rawRequest(proxied.port, `POST /server.php HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${(1500).toString(16)}\r\n${'y'.repeat(1500)}\r\n0\r\n\r\n`);
  t.equal(chunked.status, 413, 'chunked POST');

  const getWithBody = await rawRequest(proxied.port, `GET /server.php HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\nConnection: close\r\n\r\n${body}`);
  t.equal(getWithBody.status, 413, 'GET with a body');

  // An oversized body PHP would get on a method Fastify does not parse (GET): 413 at once and the
  // connection closed, not kept open while the whole announced body is read and thrown away.
  const closed = await new Promise<{ head: string; closedInTime: boolean }>((resolve) => {
    let head = '';
    const socket = net.connect(proxied.port, '127.0.0.1', () => socket.write('GET /server.php HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n'));
    const timer = setTimeout(() => { socket.destroy(); resolve({ head, closedInTime: false }); }, 3000);
    socket.on('data', (chunk) => { head += chunk.toString('latin1'); });
    socket.on('error', () => {});
    socket.on('close', () => { clearTimeout(timer); resolve({ head, closedInTime: true }); });
  });
  t.match(closed.head, /^HTTP\/1\.1 413 /, 'GET announcing a body over the limit → 413');
  t.ok(closed.closedInTime, 'the server closes the connection instead of reading 50 MB it will not use');

  const webdav = await rawRequest(proxied.port, `PROPFIND /server.php HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 2000\r\nConnection: close\r\n\r\n${body}`);
  t.equal(webdav.status, 413, 'PROPFIND over the limit');

  const small = await fetch(`${proxied.url}/server.php`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'z'.repeat(1000) });
  t.equal(small.status, 200, 'a body under the limit still works');
  t.equal(((await small.json()) as Echo).input, 'z'.repeat(1000));
  t.ok(proxied.logs.some((l) => l.msg === 'request' && l.status === 413), '413 appears in the access log');
});

t.test('php://input for PUT, PATCH, DELETE, GET with a body, and WebDAV methods', async (t) => {
  for (const method of ['PUT', 'PATCH', 'DELETE', 'GET', 'OPTIONS', 'PROPFIND', 'REPORT', 'MKCOL', 'LOCK']) {
    const body = `{"method":"${method}","data":[1,2,3]}`;
    const response = await rawRequest(server.port, `${method} /server.php HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    t.equal(response.status, 200, `${method} status`);
    const echo = json(response);
    t.equal(echo.server.REQUEST_METHOD, method);
    t.equal(echo.input, body, `${method} body reaches php://input`);
    t.equal(echo.server.CONTENT_LENGTH, String(body.length));
  }
  const chunked = await rawRequest(server.port, 'GET /server.php HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n');
  t.equal(json(chunked).input, 'abcde', 'GET with a chunked body');
  // No Content-Type at all: the body still arrives untouched.
  const response = await rawRequest(server.port, 'PUT /server.php HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello');
  t.equal(response.status, 200, 'PUT without Content-Type');
  t.equal(json(response).input, 'hello');
  t.notOk('CONTENT_TYPE' in json(response).server);
});

t.test('Status: header sets the status', async (t) => {
  const response = await fetch(`${server.url}/status.php?status=404%20Not%20Found`);
  t.equal(response.status, 404);
  t.equal(await response.text(), 'body');
  t.equal(response.headers.get('x-fixture'), 'yes');
  t.equal(response.headers.get('status'), null, 'the Status header itself is not forwarded');
  const teapot = await fetch(`${server.url}/status.php?code=418`);
  t.equal(teapot.status, 418, 'http_response_code()');
  await teapot.arrayBuffer();
});

t.test('Location without a status means 302; an explicit status wins', async (t) => {
  const response = await fetch(`${server.url}/status.php?location=/elsewhere`, { redirect: 'manual' });
  t.equal(response.status, 302);
  t.equal(response.headers.get('location'), '/elsewhere');
  await response.arrayBuffer();
  const moved = await fetch(`${server.url}/status.php?location=/moved&status=301`, { redirect: 'manual' });
  t.equal(moved.status, 301);
  await moved.arrayBuffer();
});

t.test('every Set-Cookie survives', async (t) => {
  const response = await fetch(`${server.url}/status.php`);
  await response.arrayBuffer();
  const cookies = response.headers.getSetCookie();
  t.equal(cookies.length, 2);
  t.match(cookies[0], /^first=1/);
  t.match(cookies[1], /^second=2/);
});

t.test('HEAD returns the headers and no body', async (t) => {
  const response = await rawRequest(server.port, 'HEAD /status.php HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.equal(response.status, 200);
  t.same(response.headers['x-fixture'], ['yes']);
  t.equal(response.headers['set-cookie']?.length, 2);
  t.equal(response.body.length, 0, 'no body bytes after the head');
  const head = await rawRequest(server.port, 'HEAD /server.php HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.same(head.headers['content-type'], ['application/json']);
  t.equal(head.body.length, 0);
});

t.test('a small page that is complete goes out with Content-Length; a streamed one chunked', async (t) => {
  const small = await fetch(`${server.url}/status.php`);
  t.equal(await small.text(), 'body');
  t.equal(small.headers.get('content-length'), '4');
  t.equal(small.headers.get('transfer-encoding'), null);
  const streamed = await fetch(`${server.url}/stream.php`);
  t.equal(streamed.headers.get('transfer-encoding'), 'chunked', 'still running when the head went out');
  t.equal(streamed.headers.get('content-length'), null);
  await streamed.arrayBuffer();
});

t.test('the body streams: flushed output arrives before the script ends', async (t) => {
  const gate = join(dataDir, 'gate');
  writeFileSync(gate, ''); // the script finishes only once the test removes it
  t.teardown(() => rmSync(gate, { force: true }));
  const response = await fetch(`${server.url}/flush-gate.php`);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let firstWhileWaiting = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (!firstWhileWaiting && text.includes('first:') && !text.includes('second')) {
      firstWhileWaiting = true;
      rmSync(gate); // only now may the script go on
    }
  }
  t.ok(firstWhileWaiting, 'the flushed part arrived while the script was still waiting');
  t.match(text, /^first:a{2000}\nsecond$/, 'then the rest');
});

t.test('a large output (20 MB) arrives byte-identical', async (t) => {
  const lines = 200_000;
  const expected = createHash('sha256');
  for (let i = 0; i < lines; i++) expected.update(String(i).padEnd(99, '.') + '\n');
  const response = await fetch(`${server.url}/big.php?lines=${lines}`);
  t.equal(response.status, 200);
  const body = Buffer.from(await response.arrayBuffer());
  t.equal(body.length, lines * 100);
  t.equal(createHash('sha256').update(body).digest('hex'), expected.digest('hex'));
});

t.test('a PHP fatal error gives 500 and a log line', async (t) => {
  const response = await fetch(`${server.url}/fatal.php`);
  t.equal(response.status, 500);
  const body = await response.text();
  t.notMatch(body, /undefined_function_called_here/, 'the error is not shown to the visitor (display_errors=Off)');
  t.ok(server.logs.some((l) => /Fatal error/.test(JSON.stringify(l)) && /undefined_function_called_here/.test(JSON.stringify(l))), 'the fatal error is logged');
  const next = await fetch(`${server.url}/server.php`);
  t.equal(next.status, 200, 'the worker still serves');
  await next.arrayBuffer();
});

t.test("a logged trace names no function arguments (zend.exception_ignore_args): a password stays out of the log", async (t) => {
  const response = await fetch(`${server.url}/secret-trace.php`);
  t.equal(response.status, 500);
  await response.arrayBuffer();
  const logged = server.logs.map((l) => JSON.stringify(l)).filter((l) => l.includes('password refused'));
  t.ok(logged.length > 0, 'the uncaught exception is logged');
  t.ok(logged.some((l) => l.includes('check_password(')), 'with its trace');
  t.notOk(logged.some((l) => l.includes('hunter2secret')), 'but not the argument');
});

t.test('assert() is compiled out as in production (zend.assertions=-1); --ini can switch it on', async (t) => {
  const response = await fetch(`${server.url}/assertions.php`);
  t.equal(response.status, 200, 'a failing assertion does not fail the page');
  t.equal(await response.text(), 'zend.assertions=-1\ntotal=6\n');
  const debugging = await fetch(`${proxied.url}/assertions.php`);
  t.equal(debugging.status, 500, 'with zend.assertions=1 the same assertion throws');
  await debugging.arrayBuffer();
  t.ok(proxied.logs.some((l) => /AssertionError/.test(JSON.stringify(l)) && /at least ten items/.test(JSON.stringify(l))), 'and the AssertionError is logged');
});

t.test('a fatal error after output was sent keeps the 200', async (t) => {
  const response = await fetch(`${server.url}/fatal-after-output.php`);
  t.equal(response.status, 200);
  const body = await response.text();
  t.ok(body.startsWith('x'.repeat(8192)), 'the output sent before the error arrives');
});

t.test('PHP warnings appear as log entries', async (t) => {
  const response = await fetch(`${server.url}/warning.php`);
  t.equal(await response.text(), 'ok');
  t.equal(response.status, 200);
  const entry = server.logs.find((l) => typeof l.php === 'string' && l.php.includes('fixture warning for the log'));
  t.ok(entry, 'a log entry carries the warning');
  t.match(entry?.php, /Warning/);
  t.match(entry?.worker, Number, 'names the worker');
});

t.test("a script's stderr reaches the log bounded: a flood is cut, the response is whole", async (t) => {
  const response = await fetch(`${server.url}/stderr-flood.php`);
  t.equal(await response.text(), 'done');
  const logged = server.logs.filter((l) => typeof l.php === 'string' && l.php.includes('eeee')).map((l) => String(l.php));
  const bytes = logged.reduce((sum, text) => sum + text.length, 0);
  t.ok(bytes > 0 && bytes <= 300 * 1024, `at most ~256 KB of the 4 MB were kept (${bytes})`);
  t.ok(logged.some((text) => text.includes('stderr cut at')), 'and the cut is said');
});

t.test('access log: one entry per request with method, path, status, bytes, ms and worker', async (t) => {
  const path = `/status.php?marker=${Date.now()}`;
  const response = await fetch(`${server.url}${path}`, { method: 'POST', body: 'x' });
  t.equal(await response.text(), 'body');
  // The access entry is written after the last byte went out.
  await until('the access entry', () => server.logs.some((l) => l.msg === 'request' && l.path === path));
  const entries = server.logs.filter((l) => l.msg === 'request' && l.path === path);
  t.equal(entries.length, 1, 'exactly one access entry');
  const [entry] = entries;
  t.equal(entry.method, 'POST');
  t.equal(entry.status, 200);
  t.equal(entry.bytes, 4);
  t.type(entry.ms, 'number');
  t.match(entry.worker, /^php-\d+$/);

  const big = await fetch(`${server.url}/big.php?lines=1000`);
  await big.arrayBuffer();
  await until('the streamed response\'s entry', () => server.logs.some((l) => l.msg === 'request' && l.path === '/big.php?lines=1000'));
  t.equal(server.logs.find((l) => l.msg === 'request' && l.path === '/big.php?lines=1000')?.bytes, 100_000, 'bytes counts a streamed body');

  const head = await fetch(`${server.url}/big.php?lines=999`, { method: 'HEAD' });
  await head.arrayBuffer();
  await until('the HEAD request\'s entry (PHP runs to its end first)', () => server.logs.some((l) => l.msg === 'request' && l.path === '/big.php?lines=999'));
  const headEntries = server.logs.filter((l) => l.msg === 'request' && l.path === '/big.php?lines=999');
  t.equal(headEntries.length, 1);
  t.equal(headEntries[0]?.bytes, 0, 'a HEAD sends no body bytes');
});

t.test('a client that leaves mid-stream is logged once, and the server keeps serving', async (t) => {
  const path = '/big.php?lines=200001';
  await new Promise<void>((resolve, reject) => {
    const request = http.get(`${server.url}${path}`, (response) => {
      response.once('data', () => { request.destroy(); resolve(); });
    });
    request.on('error', (error) => { if (!request.destroyed) reject(error); });
  });
  await until('the aborted request\'s entry', () => server.logs.some((l) => l.msg === 'request' && l.path === path));
  const entries = server.logs.filter((l) => l.msg === 'request' && l.path === path);
  t.equal(entries.length, 1, 'the aborted request has its access line');
  t.equal(entries[0]?.aborted, true, 'marked as aborted');
  t.ok((entries[0]?.bytes as number) < 20_000_000, 'not reported as fully sent');
  const next = await fetch(`${server.url}/server.php`);
  t.equal(next.status, 200);
  await next.arrayBuffer();
});
