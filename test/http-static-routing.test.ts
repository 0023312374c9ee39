/**
 * Routing and static files over real HTTP: files served without PHP (types, validators, Range,
 * HEAD), directories, the front controller, what is denied, traversal in every encoding, symlinks.
 */
import { mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { until } from './helpers/until.js';
import { FIXTURE_DOCROOT, startTestServer, tempDir, type TestServer } from './helpers/server.js';

interface RawResponse {
  status: number;
  headers: Record<string, string[]>;
  body: Buffer;
}

/** Sends the request target as it is (fetch would normalise /../ and friends); reads until close. */
function rawRequest(port: number, request: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    const timer = setTimeout(() => socket.destroy(new Error('raw request timed out')), 15_000);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (error) => { clearTimeout(timer); reject(error); });
    socket.on('close', () => {
      clearTimeout(timer);
      const data = Buffer.concat(chunks);
      const end = data.indexOf('\r\n\r\n');
      if (end === -1) return reject(new Error(`no response head: ${JSON.stringify(data.toString('latin1').slice(0, 200))}`));
      const [statusLine, ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string[]> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        (headers[line.slice(0, colon).trim().toLowerCase()] ??= []).push(line.slice(colon + 1).trim());
      }
      let body: Buffer = data.subarray(end + 4);
      if (headers['transfer-encoding']?.[0] === 'chunked') body = dechunk(body);
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body });
    });
  });
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; ;) {
    const lineEnd = data.indexOf('\r\n', at);
    const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (!size) return Buffer.concat(parts);
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

const rawGet = (port: number, target: string, method = 'GET', headers: Record<string, string> = {}) =>
  rawRequest(port, `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}Connection: close\r\n\r\n`);

/**
 * The access-log entries of one request path that `which` accepts, once there is one (the hook runs
 * after the response has finished).
 */
async function accessEntries(server: TestServer, path: string, which: (entry: Record<string, unknown>) => boolean = () => true): Promise<Array<Record<string, unknown>>> {
  const entries = () => server.logs.filter((l) => l.msg === 'request' && l.path === path && which(l));
  await until(`an access entry for ${path}`, () => entries().length > 0);
  return entries();
}

/** Names other servers may run as PHP, or that hold PHP source: never served as text here. */
const PHP_LIKE_NAMES = ['x.phtml', 'x.pht', 'x.php5', 'x.php7', 'x.phar', 'x.phps', 'x.php.jpg', 'x.PHTML', 'x.Php5.txt'];
/** Case variants of .php: they run (as on a case-insensitive filesystem), never served as source. */
const PHP_CASES = ['X.PHP', 'y.Php', 'z.pHp'];

let server: TestServer;
/** A temporary docroot (symlinks in and out of it) with no front controller. */
let temp: TestServer;
const SECRET = 'TOP SECRET outside the docroot';

t.before(async () => {
  const root = tempDir(t, 'pws-static-');
  const docroot = join(root, 'docroot');
  const outside = join(root, 'outside');
  mkdirSync(docroot);
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret.txt'), SECRET);
  writeFileSync(join(outside, 'secret.php'), `<?php echo "SECRET PHP RAN";`);
  writeFileSync(join(docroot, 'index.php'), `<?php echo "temp index";`);
  writeFileSync(join(docroot, 'inside.txt'), 'inside');
  symlinkSync(join(outside, 'secret.txt'), join(docroot, 'link-out.txt'));
  symlinkSync(join(outside, 'secret.php'), join(docroot, 'link-out.php'));
  symlinkSync(outside, join(docroot, 'link-dir'));
  symlinkSync('inside.txt', join(docroot, 'link-in.txt'));
  for (const name of ['a b.txt', 'ü.txt', '100%.txt', 'x#y.txt']) writeFileSync(join(docroot, name), `named ${name}`);
  for (const name of PHP_LIKE_NAMES) writeFileSync(join(docroot, name), `<?php echo "RAN"; // SOURCE CODE`);
  for (const name of PHP_CASES) writeFileSync(join(docroot, name), `<?php echo "RAN"; // SOURCE CODE`);
  writeFileSync(join(docroot, 'my script.php'), `<?php echo json_encode([$_SERVER['SCRIPT_NAME'], $_SERVER['SCRIPT_FILENAME'], $_SERVER['PATH_INFO'] ?? null]);`);
  [server, temp] = await Promise.all([
    startTestServer(),
    startTestServer({ docroot, frontController: '', workers: 1 }),
  ]);
});
t.teardown(async () => {
  await Promise.all([server?.close(), temp?.close()]);
});

t.test('static files are served without PHP, typed by mime-types', async (t) => {
  for (const [path, type] of [
    ['/assets/site.css', 'text/css; charset=utf-8'],
    ['/assets/pixel.gif', 'image/gif'],
    ['/hello.txt', 'text/plain; charset=utf-8'],
  ]) {
    const response = await fetch(server.url + path);
    t.equal(response.status, 200, `${path} status`);
    t.equal(response.headers.get('content-type'), type, `${path} content-type`);
    const body = Buffer.from(await response.arrayBuffer());
    t.ok(body.equals(readFileSync(join(FIXTURE_DOCROOT, path))), `${path} bytes`);
    const entries = await accessEntries(server, path);
    t.equal(entries.length, 1);
    t.equal(entries[0]?.worker, 'static', `${path} never touches a PHP worker`);
  }
});

t.test('ETag and Last-Modified, and the 304s they allow', async (t) => {
  const response = await fetch(`${server.url}/hello.txt`);
  await response.arrayBuffer();
  const etag = response.headers.get('etag');
  const lastModified = response.headers.get('last-modified');
  t.ok(etag, 'ETag present');
  t.equal(lastModified, statSync(join(FIXTURE_DOCROOT, 'hello.txt')).mtime.toUTCString(), 'Last-Modified is the file time');

  // Raw requests: fetch adds "Cache-Control: no-cache" to conditional requests, which rightly forces a 200.
  const byEtag = await rawGet(server.port, '/hello.txt', 'GET', { 'If-None-Match': etag! });
  t.equal(byEtag.status, 304, 'If-None-Match → 304');
  t.equal(byEtag.body.length, 0, 'a 304 has no body');

  const byDate = await rawGet(server.port, '/hello.txt', 'GET', { 'If-Modified-Since': lastModified! });
  t.equal(byDate.status, 304, 'If-Modified-Since → 304');

  const older = await rawGet(server.port, '/hello.txt', 'GET', { 'If-Modified-Since': new Date(Date.parse(lastModified!) - 60_000).toUTCString() });
  t.equal(older.status, 200, 'modified since an older date → the full file');

  const stale = await fetch(`${server.url}/hello.txt`, { headers: { 'if-none-match': '"not-the-etag"' } });
  t.equal(stale.status, 200, 'another ETag → the full file');
  t.equal(await stale.text(), 'static text file\n');
});

t.test('Range: bytes=0-4 → 206 with exactly those bytes', async (t) => {
  const response = await fetch(`${server.url}/hello.txt`, { headers: { range: 'bytes=0-4' } });
  t.equal(response.status, 206);
  t.equal(response.headers.get('content-range'), 'bytes 0-4/17');
  t.equal(response.headers.get('content-length'), '5');
  t.equal(await response.text(), 'stati');
  const tail = await fetch(`${server.url}/hello.txt`, { headers: { range: 'bytes=-5' } });
  t.equal(tail.status, 206);
  t.equal(await tail.text(), 'file\n', 'a suffix range');
  const unsatisfiable = await fetch(`${server.url}/hello.txt`, { headers: { range: 'bytes=100-200' } });
  t.equal(unsatisfiable.status, 416);
  await unsatisfiable.arrayBuffer();
});

t.test('HEAD on a static file: headers with content-length, no body', async (t) => {
  const response = await rawGet(server.port, '/assets/site.css', 'HEAD');
  t.equal(response.status, 200);
  t.same(response.headers['content-length'], ['20']);
  t.same(response.headers['content-type'], ['text/css; charset=utf-8']);
  t.ok(response.headers.etag);
  t.equal(response.body.length, 0);
  const entries = await accessEntries(server, '/assets/site.css', (l) => l.method === 'HEAD');
  t.equal(entries.length, 1);
  t.equal(entries[0]?.bytes, 0, 'the access log counts no body bytes for HEAD');
});

t.test('a directory without slash → 301 to the slash, query kept', async (t) => {
  const response = await fetch(`${server.url}/sub?x=1&y=%20`, { redirect: 'manual' });
  t.equal(response.status, 301);
  t.equal(response.headers.get('location'), '/sub/?x=1&y=%20');
  await response.arrayBuffer();
});

t.test('the directory redirect never points to another host', async (t) => {
  for (const target of ['//evil.example/../sub', '//evil.example/%2e%2e/sub?x=1', '///evil.example/../sub']) {
    const response = await rawGet(server.port, target);
    t.equal(response.status, 301, `${target} → 301`);
    const location = response.headers.location?.[0] ?? '';
    t.equal(new URL(location, 'http://127.0.0.1/').host, '127.0.0.1', `${target} → ${location} stays on this host`);
    t.match(location, /^\/sub\/(\?x=1)?$/);
  }
});

t.test('file names with spaces, non-ASCII, % and # are served', async (t) => {
  for (const [target, name] of [['/a%20b.txt', 'a b.txt'], ['/%C3%BC.txt', 'ü.txt'], ['/100%25.txt', '100%.txt'], ['/x%23y.txt', 'x#y.txt']]) {
    const response = await fetch(temp.url + target);
    t.equal(response.status, 200, `${target} status`);
    t.equal(await response.text(), `named ${name}`);
  }
  const script = await fetch(`${temp.url}/my%20script.php/p%20i`);
  t.same(await script.json(), ['/my script.php', '/docroot/my script.php', '/p i'], 'a script name with a space');
  const query = await fetch(`${server.url}/hello.txt?v=123`);
  t.equal(await query.text(), 'static text file\n', 'a query string on a static file is ignored');
});

t.test('directory indexes: index.php, then index.html', async (t) => {
  const sub = await fetch(`${server.url}/sub/`);
  t.equal(sub.status, 200);
  t.equal(await sub.text(), 'sub index', 'sub/index.php runs');
  const entries = await accessEntries(server, '/sub/');
  t.match(entries[0]?.worker, /^php-\d+$/);

  const deeper = await fetch(`${server.url}/sub/deeper/`);
  t.equal(deeper.status, 200);
  t.equal(deeper.headers.get('content-type'), 'text/html; charset=utf-8');
  t.equal(await deeper.text(), '<p>only html index</p>\n');
});

t.test('a missing path goes to the front controller, REQUEST_URI preserved', async (t) => {
  const response = await fetch(`${server.url}/no/such/page?q=a%20b`);
  t.equal(response.status, 200);
  t.equal(await response.text(), 'index.php at /index.php for /no/such/page?q=a%20b');
});

t.test("with frontController '' a missing path is 404", async (t) => {
  const response = await fetch(`${temp.url}/no/such/page`);
  t.equal(response.status, 404);
  t.notMatch(await response.text(), /temp index/);
  const root = await fetch(`${temp.url}/`);
  t.equal(await root.text(), 'temp index', 'index.php still serves as the directory index');
});

t.test('only PHP files run as PHP: /assets/upload.jpg/x.php → 404', async (t) => {
  const path = '/assets/upload.jpg/x.php';
  const response = await fetch(server.url + path);
  t.equal(response.status, 404);
  t.notMatch(await response.text(), /not php/, 'upload.jpg is neither run nor served');
  const entries = await accessEntries(server, path);
  t.equal(entries.length, 1);
  t.notMatch(String(entries[0]?.worker), /^php/, 'no PHP worker touched it');
});

t.test('PHP source is never served as a static file', async (t) => {
  const response = await fetch(`${server.url}/server.php`);
  t.notMatch(await response.text(), /<\?php/);
  t.equal(response.headers.get('content-type'), 'application/json');
});

t.test('dotfiles and .ht* are denied, /.well-known/ is not', async (t) => {
  for (const path of ['/.env', '/.htaccess', '/.git/config', '/sub/.hidden', '/%2eenv', '/%2Ehtaccess', '/.well-known/../.env', '/sub/../.htaccess']) {
    const response = await rawGet(server.port, path);
    t.equal(response.status, 403, `${path} → 403`);
    t.notMatch(response.body.toString(), /secret|deny from all/, `${path} does not leak`);
  }
  const acme = await fetch(`${server.url}/.well-known/acme.txt`);
  t.equal(acme.status, 200);
  t.equal(await acme.text(), 'acme\n');
});

t.test('traversal in any encoding never leaves the docroot and never fails with 5xx', async (t) => {
  const targets = [
    '/../../etc/passwd',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/%2E%2E/%2E%2E/etc/passwd',
    '/.%2e/.%2e/etc/passwd',
    '/..%2f..%2fetc/passwd',
    '/..%2F..%2Fetc%2Fpasswd',
    '/assets/..\\..\\x',
    '/assets/..\\..\\..\\etc\\passwd',
    '/assets/%5c..%5c..%5cetc/passwd',
    '/%00',
    '/hello.txt%00.php',
    '/assets/upload.jpg%00.php',
    '/%c0%ae%c0%ae/',
    '/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd',
    '/%252e%252e/%252e%252e/etc/passwd',
    '/sub/../../../../etc/passwd',
    '/server.php/../../../etc/passwd',
    '/server.php/%2e%2e/%2e%2e/etc/passwd',
    '//etc/passwd',
    '/./../etc/passwd',
    '/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  ];
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n')[0];
  for (const target of targets) {
    const response = await rawGet(server.port, target);
    const body = response.body.toString('latin1');
    t.ok(response.status < 500, `${target} → ${response.status}, not 5xx`);
    t.notOk(passwd && body.includes(passwd), `${target} does not return /etc/passwd`);
    // A 2xx can only be the front controller (the path stayed inside the docroot and does not exist).
    if (response.status < 300) t.match(body, /^index\.php at \/index\.php for /, `${target} → front controller`);
  }
  // A request the router refuses still gets one access-log line (it is a request like any other).
  const entries = await accessEntries(server, '/%c0%ae%c0%ae/');
  t.equal(entries.length, 1, 'a malformed URL is logged once');
  t.equal(entries[0]?.status, 400);
  const ok = await fetch(`${server.url}/hello.txt`);
  t.equal(ok.status, 200, 'the server still serves');
  await ok.arrayBuffer();
});

t.test('a symlink that points outside the docroot is not followed', async (t) => {
  for (const path of ['/link-out.txt', '/link-dir/secret.txt', '/link-dir/secret.php', '/link-out.php']) {
    const response = await fetch(temp.url + path);
    const body = await response.text();
    t.equal(response.status, 404, `${path} → 404`);
    t.notMatch(body, /SECRET/, `${path} neither serves nor runs the outside file`);
  }
  const inside = await fetch(`${temp.url}/link-in.txt`);
  t.equal(inside.status, 200, 'a symlink that stays inside is followed');
  t.equal(await inside.text(), 'inside');
});

t.test('PHP-like names are refused (403), never served as source; every case of .php runs', async (t) => {
  for (const name of PHP_LIKE_NAMES) {
    const response = await fetch(`${temp.url}/${name}`);
    const body = await response.text();
    t.equal(response.status, 403, `${name} is refused`);
    t.notMatch(body, /SOURCE CODE|RAN/, `${name}: neither source nor output`);
  }
  for (const name of PHP_CASES) {
    const response = await fetch(`${temp.url}/${name}`);
    t.equal(await response.text(), 'RAN', `${name} runs as PHP`);
  }
});

t.test('static files answer only GET and HEAD: other methods get 405 with Allow', async (t) => {
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'TRACE', 'OPTIONS']) {
    const response = await rawGet(temp.port, '/inside.txt', method);
    t.equal(response.status, 405, `${method} on a static file`);
    t.equal(response.headers.allow?.[0], 'GET, HEAD', `${method}: Allow names the methods that work`);
    t.notMatch(response.body.toString(), /inside/, `${method}: the file is not sent`);
  }
  t.equal((await rawGet(temp.port, '/inside.txt', 'GET')).status, 200);
  t.equal((await rawGet(temp.port, '/inside.txt', 'HEAD')).status, 200);
  const php = await fetch(`${temp.url}/X.PHP`, { method: 'POST', body: 'a=1' });
  t.equal(php.status, 200, 'PHP scripts still take any method');
});

t.test('two Host headers: 400 (RFC 9112), PHP never runs', async (t) => {
  const response = await rawRequest(temp.port, 'GET /X.PHP HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n');
  t.equal(response.status, 400);
  t.notMatch(response.body.toString(), /RAN/);
  const one = await rawRequest(temp.port, 'GET /X.PHP HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n');
  t.equal(one.status, 200, 'one Host is fine');
});
