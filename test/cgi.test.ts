import t from 'tap';
import { fromCgi, splitHost, toCgi, type CgiContext, type CgiRequest, type ScriptTarget } from '../server/cgi.js';

const context: CgiContext = { serverSoftware: 'php-wasm-server/test', documentRoot: '/docroot' };
const script: ScriptTarget = { relPath: 'index.php', scriptName: '/index.php', pathInfo: '' };

/** A plain HTTP/1.1 GET from 203.0.113.7 to a server listening on 192.0.2.1:3000, reached as example.com:8080. */
function request(overrides: Partial<CgiRequest> = {}): CgiRequest {
  return {
    method: 'GET',
    rawUrl: '/index.php',
    httpVersion: '1.1',
    headers: { host: ['example.com:8080'] },
    peerAddress: '203.0.113.7',
    peerPort: 54321,
    localAddress: '192.0.2.1',
    localPort: 3000,
    tls: false,
    fromTrustedProxy: false,
    clientAddress: '203.0.113.7',
    bodyLength: null,
    ...overrides,
  };
}

t.test('the whole meta-variable table of a plain GET, exactly', async (t) => {
  const job = toCgi(request(), script, context);
  t.strictSame(job.server, {
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_SOFTWARE: 'php-wasm-server/test',
    SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_NAME: 'example.com',
    SERVER_ADDR: '192.0.2.1',
    SERVER_PORT: '3000',
    REQUEST_METHOD: 'GET',
    REQUEST_URI: '/index.php',
    QUERY_STRING: '',
    REQUEST_SCHEME: 'http',
    DOCUMENT_ROOT: '/docroot',
    SCRIPT_NAME: '/index.php',
    SCRIPT_FILENAME: '/docroot/index.php',
    PHP_SELF: '/index.php',
    REMOTE_ADDR: '203.0.113.7',
    REMOTE_PORT: '54321',
    REDIRECT_STATUS: '200',
    HTTP_HOST: 'example.com:8080',
  });
  t.strictSame(job, {
    scriptPath: '/docroot/index.php',
    relativeUri: '/index.php',
    method: 'GET',
    protocol: 'http',
    headers: { host: 'example.com:8080' },
    server: job.server,
  });
});

t.test('REQUEST_URI and QUERY_STRING exactly as sent, still encoded', async (t) => {
  const cases: Array<[string, string]> = [
    ['/a.php?x=%20y&z=1+2&e=%26&u=%C3%A9', 'x=%20y&z=1+2&e=%26&u=%C3%A9'],
    ['/a.php/p%20q?x=?y', 'x=?y'],
    ['/a.php?', ''],
    ['/a.php?a[]=1&a[]=2', 'a[]=1&a[]=2'],
    ['/a.php?%zz%00', '%zz%00'],
    ['/a%2Ephp', ''],
  ];
  for (const [rawUrl, query] of cases) {
    const { server, relativeUri } = toCgi(request({ rawUrl }), { relPath: 'a.php', scriptName: '/a.php', pathInfo: '' }, context);
    t.equal(server.REQUEST_URI, rawUrl, `REQUEST_URI of ${rawUrl}`);
    t.equal(server.QUERY_STRING, query, `QUERY_STRING of ${rawUrl}`);
    t.equal(relativeUri, rawUrl, `php.wasm gets ${rawUrl} unchanged`);
  }
});

t.test('script variables, with and without PATH_INFO', async (t) => {
  const target = { relPath: 'wp-admin/a b.php', scriptName: '/wp-admin/a b.php', pathInfo: '/p q/r' };
  const withInfo = toCgi(request({ rawUrl: '/wp-admin/a%20b.php/p%20q/r?x=1' }), target, context);
  t.equal(withInfo.server.SCRIPT_NAME, '/wp-admin/a b.php');
  t.equal(withInfo.server.SCRIPT_FILENAME, '/docroot/wp-admin/a b.php');
  t.equal(withInfo.scriptPath, '/docroot/wp-admin/a b.php');
  t.equal(withInfo.server.PATH_INFO, '/p q/r', 'PATH_INFO is decoded');
  t.equal(withInfo.server.PATH_TRANSLATED, '/docroot/p q/r');
  t.equal(withInfo.server.PHP_SELF, '/wp-admin/a b.php/p q/r');
  t.equal(withInfo.server.DOCUMENT_ROOT, '/docroot');
  t.equal(withInfo.server.REQUEST_URI, '/wp-admin/a%20b.php/p%20q/r?x=1');

  const without = toCgi(request(), { relPath: 'sub/index.php', scriptName: '/sub/index.php', pathInfo: '' }, context);
  t.notOk('PATH_INFO' in without.server, 'no PATH_INFO without path info');
  t.notOk('PATH_TRANSLATED' in without.server, 'no PATH_TRANSLATED without path info');
  t.equal(without.server.PHP_SELF, '/sub/index.php');
  t.equal(without.server.SCRIPT_FILENAME, '/docroot/sub/index.php');

  const slash = toCgi(request(), { relPath: 'a.php', scriptName: '/a.php', pathInfo: '/' }, context);
  t.equal(slash.server.PATH_INFO, '/');
  t.equal(slash.server.PATH_TRANSLATED, '/docroot/');

  const otherRoot = toCgi(request(), script, { serverSoftware: 'x', documentRoot: '/srv/www' });
  t.equal(otherRoot.server.DOCUMENT_ROOT, '/srv/www');
  t.equal(otherRoot.server.SCRIPT_FILENAME, '/srv/www/index.php');
  t.equal(otherRoot.server.SERVER_SOFTWARE, 'x');
});

t.test('SERVER_NAME without the port; SERVER_PORT the real local port', async (t) => {
  const cases: Array<[string | undefined, string, string, number, string]> = [
    // host header, local address, expected SERVER_NAME, local port, expected HTTP_HOST
    ['example.com:8080', '192.0.2.1', 'example.com', 3000, 'example.com:8080'],
    ['example.com', '192.0.2.1', 'example.com', 80, 'example.com'],
    ['[::1]:8080', '::1', '[::1]', 8080, '[::1]:8080'],
    ['[2001:db8::1]', '2001:db8::1', '[2001:db8::1]', 443, '[2001:db8::1]'],
    ['127.0.0.1:8087', '127.0.0.1', '127.0.0.1', 8087, '127.0.0.1:8087'],
    [undefined, '127.0.0.1', '127.0.0.1', 8087, '127.0.0.1:8087'],
    [undefined, '::1', '[::1]', 8087, '[::1]:8087'],
  ];
  for (const [host, localAddress, name, localPort, httpHost] of cases) {
    const { server, headers } = toCgi(request({ headers: host ? { host: [host] } : {}, localAddress, localPort }), script, context);
    t.equal(server.SERVER_NAME, name, `SERVER_NAME for Host ${host}`);
    t.equal(server.SERVER_PORT, String(localPort), `SERVER_PORT for Host ${host}`);
    t.equal(server.HTTP_HOST, httpHost, `HTTP_HOST for Host ${host}`);
    t.equal(headers.host, httpHost, `php.wasm's host header for Host ${host}`);
  }
  t.same(splitHost('Example.COM:81'), { name: 'example.com', port: 81 });
  t.same(splitHost('[::1]'), { name: '[::1]', port: undefined });
  t.same(splitHost('example.com:'), { name: 'example.com', port: undefined }, 'an empty port (RFC 7230) is no part of the name');
  t.same(splitHost('[::1]:'), { name: '[::1]', port: undefined });
  const emptyPort = toCgi(request({ headers: { host: ['example.com:'] } }), script, context);
  t.equal(emptyPort.server.SERVER_NAME, 'example.com');
  t.equal(emptyPort.server.SERVER_PORT, '3000');
});

t.test('protocol, remote address and HTTPS', async (t) => {
  const http10 = toCgi(request({ httpVersion: '1.0', method: 'POST' }), script, context);
  t.equal(http10.server.SERVER_PROTOCOL, 'HTTP/1.0');
  t.equal(http10.server.REQUEST_METHOD, 'POST');
  t.equal(http10.method, 'POST');

  const v6 = toCgi(request({ peerAddress: '::1', peerPort: 1234, clientAddress: '::1' }), script, context);
  t.equal(v6.server.REMOTE_ADDR, '::1', 'no brackets in REMOTE_ADDR');
  t.equal(v6.server.REMOTE_PORT, '1234');

  const tls = toCgi(request({ tls: true, localPort: 8443 }), script, context);
  t.equal(tls.server.HTTPS, 'on');
  t.equal(tls.server.REQUEST_SCHEME, 'https');
  t.equal(tls.protocol, 'https');
  t.equal(tls.server.SERVER_PORT, '8443');

  const plain = toCgi(request(), script, context);
  t.notOk('HTTPS' in plain.server, 'no HTTPS at all over plain HTTP (not even "off")');
  t.equal(plain.server.REQUEST_SCHEME, 'http');
  t.equal(plain.protocol, 'http');
});

t.test('CONTENT_TYPE and CONTENT_LENGTH', async (t) => {
  const post = toCgi(request({
    method: 'POST',
    headers: { host: ['h'], 'content-type': ['application/x-www-form-urlencoded; charset=UTF-8'], 'content-length': ['11'] },
    bodyLength: 11,
  }), script, context);
  t.equal(post.server.CONTENT_LENGTH, '11');
  t.equal(post.server.CONTENT_TYPE, 'application/x-www-form-urlencoded; charset=UTF-8');
  t.notOk('HTTP_CONTENT_TYPE' in post.server, 'not duplicated as HTTP_CONTENT_TYPE');
  t.notOk('HTTP_CONTENT_LENGTH' in post.server, 'not duplicated as HTTP_CONTENT_LENGTH');
  t.equal(post.headers['content-type'], 'application/x-www-form-urlencoded; charset=UTF-8', 'php.wasm reads it to parse $_POST');

  const chunked = toCgi(request({ method: 'PUT', headers: { host: ['h'], 'transfer-encoding': ['chunked'] }, bodyLength: 5 }), script, context);
  t.equal(chunked.server.CONTENT_LENGTH, '5', 'a chunked body gets its real length');
  t.notOk('CONTENT_TYPE' in chunked.server, 'no CONTENT_TYPE when none was sent');

  const empty = toCgi(request({ method: 'POST', headers: { host: ['h'], 'content-length': ['0'] }, bodyLength: 0 }), script, context);
  t.equal(empty.server.CONTENT_LENGTH, '0', 'an empty body is still a body');

  const get = toCgi(request(), script, context);
  t.notOk('CONTENT_LENGTH' in get.server, 'no CONTENT_LENGTH without a body');
  t.notOk('CONTENT_TYPE' in get.server, 'no CONTENT_TYPE without a body');
  t.notOk('content-type' in get.headers);

  // RFC 3875 §4.1.3: "The server MUST set this meta-variable if an HTTP Content-Type field is present".
  const typedGet = toCgi(request({ headers: { host: ['h'], 'content-type': ['text/plain'] } }), script, context);
  t.equal(typedGet.server.CONTENT_TYPE, 'text/plain');
  t.notOk('CONTENT_LENGTH' in typedGet.server);
});

t.test('HTTP_* for every header', async (t) => {
  const { server, headers } = toCgi(request({
    headers: {
      host: ['example.com'],
      accept: ['text/html', 'application/json'],
      'accept-language': ['de'],
      'user-agent': ['UA/1.0'],
      'x-custom-thing': ['1'],
      'x-empty': [''],
      cookie: ['a=1', 'b=2; c=3'],
      authorization: ['Bearer t'],
      'x-missing': undefined,
    },
  }), script, context);
  t.equal(server.HTTP_ACCEPT, 'text/html, application/json', 'repeated headers are joined with ", "');
  t.equal(server.HTTP_ACCEPT_LANGUAGE, 'de');
  t.equal(server.HTTP_USER_AGENT, 'UA/1.0');
  t.equal(server.HTTP_X_CUSTOM_THING, '1');
  t.equal(server.HTTP_X_EMPTY, '');
  t.equal(server.HTTP_COOKIE, 'a=1; b=2; c=3', 'cookies are joined with "; "');
  t.equal(headers.cookie, 'a=1; b=2; c=3', 'php.wasm gets the joined cookie header for $_COOKIE');
  t.equal(server.HTTP_AUTHORIZATION, 'Bearer t');
  t.equal(server.HTTP_HOST, 'example.com');
  t.notOk('HTTP_X_MISSING' in server);
  const httpKeys = Object.keys(server).filter((k) => k.startsWith('HTTP_')).sort();
  t.same(httpKeys, ['HTTP_ACCEPT', 'HTTP_ACCEPT_LANGUAGE', 'HTTP_AUTHORIZATION', 'HTTP_COOKIE', 'HTTP_HOST', 'HTTP_USER_AGENT', 'HTTP_X_CUSTOM_THING', 'HTTP_X_EMPTY']);
});

t.test('httpoxy: a Proxy header never becomes HTTP_PROXY', async (t) => {
  const { server } = toCgi(request({ headers: { host: ['h'], proxy: ['http://evil.example:8080'] } }), script, context);
  t.notOk('HTTP_PROXY' in server);
  t.notOk(Object.values(server).includes('http://evil.example:8080'), 'its value appears nowhere');
});

t.test('header names with underscores are dropped, whichever comes first', async (t) => {
  const a = toCgi(request({ headers: { host: ['h'], 'x-foo': ['dash'], x_foo: ['underscore'] } }), script, context);
  const b = toCgi(request({ headers: { host: ['h'], x_foo: ['underscore'], 'x-foo': ['dash'] } }), script, context);
  t.equal(a.server.HTTP_X_FOO, 'dash');
  t.equal(b.server.HTTP_X_FOO, 'dash');
  const only = toCgi(request({ headers: { host: ['h'], x_auth_user: ['admin'] } }), script, context);
  t.notOk('HTTP_X_AUTH_USER' in only.server, 'an underscore name alone is dropped too');
  t.notOk(Object.values(only.server).includes('admin'));
});

t.test('header values with CR, LF, NUL or other controls never reach PHP (found by the fuzz test)', async (t) => {
  const job = toCgi(request({
    headers: {
      host: ['evil.example\r\nX-Injected: 1'],
      'x-forwarded-host': ['evil.example\n'],
      'x-a': ['ok', 'bad\nvalue', 'also\0bad'],
      'x-b': ['a\rb'],
      'x-tab': ['a\tb'],
      'x-latin': ['\u00e9'],
      cookie: ['a=1', 'b=2\r\nSet-Cookie: c=3'],
      'content-type': ['text/plain\r\nX: y'],
    },
    fromTrustedProxy: true,
  }), script, context);
  t.equal(job.server.HTTP_X_A, 'ok', 'only the values HTTP can carry');
  t.notOk('HTTP_X_B' in job.server, 'no value left: no variable');
  t.equal(job.server.HTTP_X_TAB, 'a\tb', 'tab is a field character');
  t.equal(job.server.HTTP_X_LATIN, '\u00e9');
  t.equal(job.server.HTTP_COOKIE, 'a=1');
  t.notOk('CONTENT_TYPE' in job.server);
  t.equal(job.server.HTTP_HOST, '192.0.2.1:3000', 'an unusable Host counts as none');
  t.equal(job.server.SERVER_NAME, '192.0.2.1');
  t.same(job.headers, { host: '192.0.2.1:3000', cookie: 'a=1' });
  for (const [name, value] of Object.entries(job.server)) t.notMatch(value, /[\r\n\0]/, name);
});

t.test('control characters in the request target reach PHP percent-encoded (found by the fuzz test)', async (t) => {
  const job = toCgi(request({ rawUrl: '/index.php?a=\r\nb\0' }), script, context);
  t.equal(job.server.REQUEST_URI, '/index.php?a=%0D%0Ab%00');
  t.equal(job.server.QUERY_STRING, 'a=%0D%0Ab%00');
  t.equal(job.relativeUri, '/index.php?a=%0D%0Ab%00');
});

const PROXIED = {
  host: ['internal:8080'],
  'x-forwarded-for': ['198.51.100.9'],
  'x-forwarded-proto': ['https'],
  'x-forwarded-host': ['www.example.org'],
  'x-forwarded-port': ['8443'],
};

t.test('behind a trusted proxy, X-Forwarded-* decide address, scheme, host and port', async (t) => {
  const job = toCgi(request({ headers: PROXIED, peerAddress: '10.0.0.2', fromTrustedProxy: true, clientAddress: '198.51.100.9' }), script, context);
  t.equal(job.server.REMOTE_ADDR, '198.51.100.9');
  t.equal(job.server.HTTPS, 'on');
  t.equal(job.server.REQUEST_SCHEME, 'https');
  t.equal(job.protocol, 'https');
  t.equal(job.server.HTTP_HOST, 'www.example.org:8443', 'the forwarded port joins a host that has none (the public authority)');
  t.equal(job.headers.host, 'www.example.org:8443');
  t.equal(job.server.SERVER_NAME, 'www.example.org');
  t.equal(job.server.SERVER_PORT, '8443');
  t.equal(job.server.HTTP_X_FORWARDED_FOR, '198.51.100.9', 'the headers are still visible');

  const at = (headers: Record<string, string[]>, overrides: Partial<CgiRequest> = {}) =>
    toCgi(request({ headers, peerAddress: '10.0.0.2', fromTrustedProxy: true, ...overrides }), script, context).server;
  t.equal(at({ host: ['i'], 'x-forwarded-proto': ['https'], 'x-forwarded-host': ['www.example.org'] }).SERVER_PORT, '443', 'https without a port: 443');
  t.equal(at({ host: ['i'], 'x-forwarded-proto': ['http'], 'x-forwarded-host': ['www.example.org'] }).SERVER_PORT, '80', 'http without a port: 80');
  const withHostPort = at({ host: ['i'], 'x-forwarded-proto': ['https'], 'x-forwarded-host': ['www.example.org:9443'] });
  t.equal(withHostPort.SERVER_PORT, '9443', 'the port in X-Forwarded-Host');
  t.equal(withHostPort.SERVER_NAME, 'www.example.org');
  t.equal(withHostPort.HTTP_HOST, 'www.example.org:9443');
  t.equal(at({ host: ['i'], 'x-forwarded-proto': ['https'], 'x-forwarded-host': ['www.example.org'], 'x-forwarded-port': ['443'] }).HTTP_HOST, 'www.example.org', 'the default port is not added');
  t.equal(at({ host: ['i'], 'x-forwarded-proto': ['https'], 'x-forwarded-host': ['www.example.org:9443'], 'x-forwarded-port': ['8443'] }).HTTP_HOST, 'www.example.org:9443', 'a host with its own port keeps it');
  const downgraded = at({ host: ['i'], 'x-forwarded-proto': ['http'] }, { tls: true });
  t.notOk('HTTPS' in downgraded, 'the proxy spoke http to the client, even if it spoke TLS to us');
  t.equal(downgraded.REQUEST_SCHEME, 'http');
  const chain = at({ host: ['i'], 'x-forwarded-proto': ['https, http'], 'x-forwarded-host': ['a.example, b.example'] });
  t.notOk('HTTPS' in chain, 'the last value counts: the one the trusted proxy added (earlier ones may be the client\'s)');
  t.equal(chain.SERVER_NAME, 'b.example');
  const spoofed = at({ host: ['i'], 'x-forwarded-host': ['evil.example', 'www.example.org'] });
  t.equal(spoofed.SERVER_NAME, 'www.example.org', 'of repeated header lines, the last one counts');
  const upper = at({ host: ['i'], 'x-forwarded-proto': ['HTTPS'] });
  t.equal(upper.HTTPS, 'on', 'the scheme is case-insensitive');
  const ipv6 = at({ host: ['i'], 'x-forwarded-host': ['[2001:db8::5]:8080'] });
  t.equal(ipv6.SERVER_NAME, '[2001:db8::5]');
  t.equal(ipv6.SERVER_PORT, '8080');
});

t.test('from anyone else, X-Forwarded-* change nothing', async (t) => {
  const spoofed = toCgi(request({ headers: PROXIED, peerAddress: '10.0.0.2', clientAddress: '198.51.100.9' }), script, context);
  const honest = toCgi(request({ headers: { host: ['internal:8080'] }, peerAddress: '10.0.0.2', clientAddress: '10.0.0.2' }), script, context);
  t.equal(spoofed.server.REMOTE_ADDR, '10.0.0.2', 'REMOTE_ADDR is the peer, whatever clientAddress says');
  t.notOk('HTTPS' in spoofed.server);
  t.equal(spoofed.server.REQUEST_SCHEME, 'http');
  t.equal(spoofed.protocol, 'http');
  t.equal(spoofed.server.HTTP_HOST, 'internal:8080');
  t.equal(spoofed.headers.host, 'internal:8080');
  t.equal(spoofed.server.SERVER_NAME, 'internal');
  t.equal(spoofed.server.SERVER_PORT, '3000');
  t.equal(spoofed.server.HTTP_X_FORWARDED_PROTO, 'https', 'still passed as plain headers');
  t.equal(spoofed.server.HTTP_X_FORWARDED_HOST, 'www.example.org');
  t.equal(spoofed.server.HTTP_X_FORWARDED_PORT, '8443');
  t.equal(spoofed.server.HTTP_X_FORWARDED_FOR, '198.51.100.9');
  const withoutForwarded = Object.fromEntries(Object.entries(spoofed.server).filter(([k]) => !k.startsWith('HTTP_X_FORWARDED_')));
  t.strictSame(withoutForwarded, honest.server, 'apart from HTTP_X_FORWARDED_*, identical to a request without them');
  const tls = toCgi(request({ headers: { ...PROXIED, 'x-forwarded-proto': ['http'] }, tls: true }), script, context);
  t.equal(tls.server.HTTPS, 'on', 'an untrusted X-Forwarded-Proto cannot downgrade either');
});

t.test('fromCgi: Status header', async (t) => {
  const notFound = fromCgi(200, { status: ['404 Not Found'], 'content-type': ['text/html; charset=UTF-8'] });
  t.equal(notFound.status, 404);
  t.strictSame({ ...notFound.headers }, { 'content-type': 'text/html; charset=UTF-8' }, 'the Status header itself is removed');
  t.equal(fromCgi(200, { Status: ['503 Service Unavailable'] }).status, 503, 'any case of the name');
  t.equal(fromCgi(200, { status: ['500'] }).status, 500, 'a bare code');
  t.equal(fromCgi(200, { status: ['201 Created', '418 I am a teapot'] }).status, 418, 'the last Status wins, as with header()');
  const junk = fromCgi(200, { status: ['abc'] });
  t.equal(junk.status, 200, 'an unreadable Status keeps the status');
  t.notOk('status' in junk.headers);
  t.equal(fromCgi(200, { status: ['42 Nope'] }).status, 200, 'a code out of range is ignored');
  t.equal(fromCgi(0, {}).status, 200, 'no status at all: 200');
  t.equal(fromCgi(404, {}).status, 404, "PHP's own status is kept");
});

t.test('fromCgi: Location', async (t) => {
  const plain = fromCgi(200, { location: ['/next'] });
  t.equal(plain.status, 302, 'Location without a status: 302');
  t.equal(plain.headers.location, '/next');
  t.equal(fromCgi(201, { location: ['/thing/1'] }).status, 201, '201 Created keeps its Location');
  t.equal(fromCgi(200, { status: ['201 Created'], location: ['/thing/1'] }).status, 201);
  t.equal(fromCgi(200, { status: ['301 Moved Permanently'], location: ['/x'] }).status, 301, 'an explicit Status 301 stays');
  t.equal(fromCgi(200, { location: ['/x'], status: ['307 Temporary Redirect'] }).status, 307, 'whatever the header order');
  t.equal(fromCgi(301, { location: ['/x'] }).status, 301, 'http_response_code(301) stays');
  t.equal(fromCgi(303, { Location: ['/x'] }).status, 303);
  t.equal(fromCgi(200, { Location: ['http://example.com/'] }).headers.location, 'http://example.com/', 'names are lower-cased');
});

t.test('fromCgi: cookies and other headers', async (t) => {
  const cookies = ['a=1; Path=/', 'b=2; HttpOnly', 'c=3; Expires=Wed, 21 Oct 2015 07:28:00 GMT'];
  const head = fromCgi(200, { 'set-cookie': cookies, 'x-multi': ['1', '2'], 'content-type': ['text/plain'] });
  t.strictSame(head.headers['set-cookie'], cookies, 'every Set-Cookie survives, unjoined');
  t.strictSame(fromCgi(200, { 'Set-Cookie': ['only=1'] }).headers['set-cookie'], ['only=1'], 'a single cookie is still an array');
  t.equal(head.headers['x-multi'], '1, 2');
  t.equal(head.headers['content-type'], 'text/plain');
});

t.test('fromCgi: hop-by-hop headers are dropped', async (t) => {
  const head = fromCgi(200, {
    connection: ['close'],
    'Keep-Alive': ['timeout=5'],
    'transfer-encoding': ['chunked'],
    upgrade: ['websocket'],
    'proxy-connection': ['keep-alive'],
    te: ['trailers'],
    trailer: ['x-checksum'],
    'x-kept': ['yes'],
    'cache-control': ['no-store'],
  });
  t.strictSame({ ...head.headers }, { 'x-kept': 'yes', 'cache-control': 'no-store' });
});

t.test('fromCgi: statuses outside 200–599 never reach the client', async (t) => {
  t.equal(fromCgi(200, { status: ['103 Early Hints'] }).status, 200, 'a 1xx Status: would leave the client waiting');
  t.equal(fromCgi(200, { status: ['700 Nope'] }).status, 200);
  t.equal(fromCgi(103, {}).status, 200, 'nor a 1xx from http_response_code()');
  t.equal(fromCgi(999, {}).status, 200);
  t.equal(fromCgi(599, {}).status, 599);
});

t.test('fromCgi: names that are object slots stay data; names and values HTTP cannot carry are dropped', async (t) => {
  const head = fromCgi(200, Object.assign(Object.create(null) as Record<string, string[]>, {
    ['__proto__']: ['x'], constructor: ['c'], 'bad name': ['v'], 'x-del': ['a\x7fb'], 'x-nl': ['a\nb'], 'x-ok': ['fine'],
  }));
  t.equal(Object.getPrototypeOf(head.headers), null, 'no prototype to overwrite');
  t.equal(head.headers.constructor, 'c');
  t.equal(head.headers['x-ok'], 'fine');
  t.same(Object.keys(head.headers).sort(), ['constructor', 'x-ok']);
  t.same(head.dropped.sort(), ['__proto__', 'bad name', 'x-del', 'x-nl']);
  t.equal(fromCgi(200, { 'x-name': ['Grüße'] }).headers['x-name'], Buffer.from('Grüße').toString('latin1'), 'non-ASCII text goes out as its UTF-8 bytes');
  t.same(fromCgi(200, { 'x-tab': ['a\tb'] }).dropped, [], 'a tab is allowed');
});

t.test('parsePhpHead: php.wasm head JSON into a record with no prototype', async (t) => {
  const { parsePhpHead } = await import('../server/pool/php-head.js');
  const head = parsePhpHead(JSON.stringify({ status: 404, headers: ['__proto__: x', 'Set-Cookie: a=1', 'set-cookie: b=2', 'no colon', 'X-Empty: '] }));
  t.equal(head.status, 404);
  t.equal(Object.getPrototypeOf(head.headers), null);
  t.same(head.headers['__proto__'], ['x']);
  t.same(head.headers['set-cookie'], ['a=1', 'b=2'], 'repeated names keep every value, in order');
  t.same(head.headers['x-empty'], ['']);
  t.notOk('no colon' in head.headers);
  t.same(parsePhpHead('{"status":200,"headers":["X-Ctl: a\x01b","X-After: ok"]}').headers['x-after'], ['ok'], 'an unescaped control byte loses nothing else');
  t.same(parsePhpHead('not json'), { status: 200, headers: Object.create(null) });
  t.equal(parsePhpHead('{"headers":[]}').status, 200, 'no status: 200');
});

t.test('header values with CR, LF or NUL never reach PHP (found by the fuzz test)', async (t) => {
  const job = toCgi(request({ headers: { host: ['evil\r\nx'], 'x-a': ['ok', 'bad\nvalue'], 'x-b': ['nul\0'], cookie: ['a=1'] } }), script, context);
  t.equal(job.server.HTTP_X_A, 'ok', 'the clean value of a header stays');
  t.notOk('HTTP_X_B' in job.server, 'a header with nothing clean left is gone');
  t.equal(job.server.HTTP_HOST, '192.0.2.1:3000', 'a Host that would break a line falls back to the local address');
  t.notMatch(JSON.stringify(job), /\\r|\\n|\\u0000/);
});
