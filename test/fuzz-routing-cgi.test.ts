/**
 * Property-based fuzzing of the pure request edges: URL → what to serve (resolveRequest over a real
 * docroot on disk) and the CGI mapping in both directions (toCgi, fromCgi). Seeded, so a failure
 * reproduces; bounded in runs and time, so the file stays a few seconds. FUZZ_SEED and FUZZ_RUNS
 * override both when hunting.
 */
import t, { type Test } from 'tap';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fromCgi, toCgi, type CgiContext, type CgiRequest, type ScriptTarget } from '../server/cgi.js';
import { createDocrootView } from '../server/docroot-view.js';
import { DEFAULT_ROUTE_OPTIONS, resolveRequest, type DocrootView, type Resolution, type RouteOptions } from '../server/routing.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_2024);
const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);
/** A property stops (and passes with fewer runs) past this, so a slow shared machine cannot hang the file. */
const TIME_LIMIT_MS = 20_000;

/** Runs one property; on failure the message carries the seed and the shrunk counterexample. */
function checkProperty<T>(t: Test, name: string, property: fc.IProperty<T>) {
  const details = fc.check(property, { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false });
  if (details.failed) {
    const why = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    t.fail(`${name}: counterexample found with seed ${SEED} (rerun with FUZZ_SEED=${SEED})\n${why}\n${fc.defaultReportMessage(details)}`);
  } else {
    t.pass(`${name}: ${details.numRuns} runs${details.interrupted ? ' (stopped by the time limit)' : ''}, seed ${SEED}`);
  }
}

// ---------------------------------------------------------------------------------------------
// A real docroot next to an "outside" folder, and a sibling whose name starts like the root's.

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'fuzz-routing-')));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const root = path.join(tmp, 'root');
const outside = path.join(tmp, 'outside');
const sibling = path.join(tmp, 'root-evil');

const FILES = [
  'index.php', 'a.php', 'UPPER.PHP', 'Mixed.Php', 'a b.php', 'é.php', 'pct%2e.php', 'readme.txt', 'page.html', 'img.jpg',
  'info.phtml', 'archive.phar', 'old.php5', 'x.php.jpg', 'x.PHP.txt', 'shell.pht', 'src.phps', 'php', 'x.php ', 'x.php.',
  '.env', '.htaccess', '.well-known/acme.txt', '.git/config',
  'sub/index.php', 'sub/page.php', 'sub/data.json', 'sub/deeper/index.html', 'sub/deeper/x.php',
  'private/secret.php', 'dir.php/index.html', 'dir.php/inner.txt', 'htmlonly/index.html',
];
const DIRS = ['empty'];
const SYMLINKS: Array<[string, string]> = [
  ['link-out.php', '../outside/secret.php'],
  ['link-out.txt', '../outside/secret.txt'],
  ['link-out-dir', '../outside'],
  ['abs-out.php', path.join(outside, 'secret.php')],
  ['link-in.php', 'a.php'],
  ['link-in-dir', 'sub'],
  ['sibling', '../root-evil'],
  ['up', '..'],
  ['sub/up', '..'],
  ['loop', 'loop'],
  ['dangling.php', 'missing.php'],
];
for (const file of FILES) {
  fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  fs.writeFileSync(path.join(root, file), `<?php echo ${JSON.stringify(file)};`);
}
for (const dir of DIRS) fs.mkdirSync(path.join(root, dir), { recursive: true });
for (const [link, target] of SYMLINKS) fs.symlinkSync(target, path.join(root, link));
fs.mkdirSync(outside);
for (const file of ['secret.php', 'secret.txt', 'index.php']) fs.writeFileSync(path.join(outside, file), 'outside');
fs.mkdirSync(sibling);
fs.writeFileSync(path.join(sibling, 'x.php'), 'sibling');

const rootReal = fs.realpathSync(root);
const inside = (absolute: string) => absolute === rootReal || absolute.startsWith(rootReal + path.sep);

/** The real view, recording every path the router asked about. */
function recordingView(): DocrootView & { asked: string[] } {
  const view = createDocrootView(root);
  const asked: string[] = [];
  return { asked, kind: (relPath) => (asked.push(relPath), view.kind(relPath)) };
}

// ---------------------------------------------------------------------------------------------
// URL generators.

/** Names that exist (inside and outside), and their parts, so random paths hit real entries often. */
const NAMES = [
  ...new Set([...FILES, ...DIRS, ...SYMLINKS.map(([link]) => link)].flatMap((entry) => entry.split('/'))),
  'outside', 'secret.php', 'secret.txt', 'root', 'root-evil', 'etc', 'passwd', 'missing.php', 'missing.jpg', 'x.PHP', 'x.pHp',
];
/** Pieces known to confuse path handling: dot segments in every spelling, slashes, NUL, CRLF. */
const TRICKS = [
  '.', '..', '', '...', '%2e', '%2E', '%2e%2e', '%2E%2E', '.%2e', '%2e.', '%252e%252e', '%25%32%65', '%c0%ae', '%c0%ae%c0%ae', '%e0%80%ae',
  '%c0%af', '%e0%80%af', '%c1%9c', '%2f', '%2F', '%252f', '%5c', '%5C', '%255c', '\\', '..\\', '\\..', '%ef%bc%8f', '%e2%80%ae',
  '%00', '%2500', '\0', '%0d%0a', '%0a', '%0d', '%0D%0A', '\r\n', '\n', '%09', '%7f', '%20', ' ', '%', '%%', '%zz', '%e9', '%c3%a9',
  '.php', '.PHP', '%2ephp', '.ph%70', '.p%48p', '::$DATA', ';', ';.php', '~', '#', '?', '?a=1', '?x=\r\n', '%3f', '%23',
  '.htaccess', '.env', '.well-known', '\ud800', '\udfff', '\u2028', '\uff0e\uff0e',
];
const piece = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NAMES) },
  { weight: 4, arbitrary: fc.constantFrom(...TRICKS) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 4 }) },
);
const segment = fc.array(piece, { minLength: 1, maxLength: 3 }).map((parts) => parts.join(''));
const suffix = fc.constantFrom('', '', '', '/', '?', '?q=1', '?x=../../etc/passwd', '?\r\nX: y', '//', '/.', '/..', '#frag');

/** UTF-8 percent-encoding of one character, in either hex case, sometimes encoded twice. */
function encodeChar(char: string, mode: number): string {
  if (mode === 0) return char;
  const bytes = [...Buffer.from(char, 'utf8')].map((byte) => byte.toString(16).padStart(2, '0'));
  const hex = mode === 2 ? bytes.map((b) => b.toUpperCase()) : bytes;
  return hex.map((b) => (mode === 3 ? '%25' : '%') + b).join('');
}
/** Percent-encodes a random subset of the characters of a path. */
const partlyEncoded = (plain: string) =>
  fc.array(fc.constantFrom(0, 0, 0, 1, 2, 3), { minLength: plain.length, maxLength: plain.length })
    .map((modes) => [...plain].map((char, i) => encodeChar(char, modes[i] ?? 0)).join(''));

const structuredPath = fc.tuple(fc.array(segment, { maxLength: 6 }), suffix).map(([segments, end]) => '/' + segments.join('/') + end);
/** An entry that exists, as is or with a tail (PATH_INFO after a script, tricks after a file). */
const ENTRIES = [...FILES, ...DIRS, ...SYMLINKS.map(([link]) => link)];
const existingPath = fc.tuple(fc.constantFrom(...ENTRIES), fc.oneof({ weight: 2, arbitrary: fc.constant([]) }, fc.array(segment, { maxLength: 2 })), suffix)
  .map(([entry, tail, end]) => '/' + [entry, ...tail].join('/') + end);
const rawUrl: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: structuredPath },
  { weight: 3, arbitrary: existingPath },
  { weight: 2, arbitrary: fc.oneof(structuredPath, existingPath).chain(partlyEncoded) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map((s) => '/' + s) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
);

const method = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('GET', 'HEAD') },
  { weight: 1, arbitrary: fc.constantFrom('POST', 'PUT', 'DELETE', 'OPTIONS', 'PROPFIND', 'TRACE', 'get') },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);
const routeOptions: fc.Arbitrary<RouteOptions> = fc.record({
  frontController: fc.constantFrom('/index.php', '', 'sub/page.php', '/missing.php', '/readme.txt', '/info.phtml', '/.env', '/../outside/index.php', '/link-out.php', '/private/secret.php'),
  deny: fc.subarray(['private/', 'SUB/deeper', './dir.php//', '../']),
  assetExtensions: fc.subarray(['jpg', 'css', 'php', 'txt']),
}).map((picked) => ({ ...DEFAULT_ROUTE_OPTIONS, ...picked }));

// ---------------------------------------------------------------------------------------------
// Invariants.

/** What PHP (or Apache's AddHandler) would take for a script: any of these extensions anywhere in the name. */
const PHP_LIKE_EXTENSIONS = /^(php\d*|phtml|pht|phar|phps)$/;
const isPhpLike = (fileName: string) => fileName.toLowerCase().split('.').slice(1).some((ext) => PHP_LIKE_EXTENSIONS.test(ext));
const CONTROL = /[\r\n\0]/;

function checkResolution(resolution: Resolution, url: string, verb: string, options: RouteOptions, asked: string[]): void {
  const fail = (why: string) => { throw new Error(`${why}: ${JSON.stringify({ url, verb, options, resolution })}`); };
  for (const relPath of asked) {
    if (!inside(path.resolve(rootReal, relPath))) fail(`router asked about ${JSON.stringify(relPath)}, outside the docroot`);
  }
  switch (resolution.type) {
    case 'static':
    case 'php': {
      const { relPath } = resolution;
      if (relPath.startsWith('/') || relPath.split('/').some((s) => s === '..' || s === '.' || s === '') || /[\\\0]/.test(relPath)) fail('relPath not normalised');
      if (!inside(path.resolve(rootReal, relPath))) fail('relPath outside the docroot');
      let real: string;
      try { real = fs.realpathSync(path.join(rootReal, relPath)); } catch { return fail('resolved to something that does not exist'); }
      if (!inside(real)) fail(`resolved through a symlink to ${real}, outside the docroot`);
      if (!fs.statSync(real).isFile()) fail('resolved to something that is not a file');
      if (resolution.type === 'php') {
        if (!relPath.toLowerCase().endsWith('.php')) fail('a file not ending in .php runs as PHP');
        if (resolution.scriptName !== '/' + relPath) fail('SCRIPT_NAME does not name the script');
        if (CONTROL.test(resolution.pathInfo) || CONTROL.test(relPath)) fail('CR, LF or NUL in what PHP gets as SCRIPT_NAME or PATH_INFO');
        if (resolution.pathInfo && !resolution.pathInfo.startsWith('/')) fail('PATH_INFO not starting with /');
      } else {
        if (isPhpLike(path.posix.basename(relPath))) fail('PHP-like source served as a static file');
        if (verb !== 'GET' && verb !== 'HEAD') fail('static file for a method other than GET/HEAD');
      }
      return;
    }
    case 'redirect': {
      const { location } = resolution;
      // A browser reads "/\\" like "//" (another host), but only in the path: the query is the client's own, passed on.
      const locationPath = location.split('?')[0];
      if (!locationPath.startsWith('/') || locationPath.startsWith('//') || locationPath.includes('\\')) fail('redirect off this host');
      if (/[\x00-\x1f\x7f]/.test(location)) fail('control character in a redirect Location');
      return;
    }
    case 'error':
      if (![400, 403, 404, 405].includes(resolution.status)) fail('unexpected error status');
      if (resolution.status === 405 && resolution.allow !== 'GET, HEAD') fail('405 without Allow');
      return;
    default:
      fail('unknown resolution type');
  }
}

t.test('resolveRequest over a real docroot: never outside it, only .php runs, no PHP source served, never throws', async (t) => {
  checkProperty(t, 'resolveRequest', fc.property(rawUrl, method, routeOptions, (url, verb, options) => {
    const view = recordingView();
    const resolution = resolveRequest(url, view, options, verb);
    checkResolution(resolution, url, verb, options, view.asked);
  }));
});

// ---------------------------------------------------------------------------------------------
// Header generators, for both directions.

const HEADER_NAMES = [
  'host', 'cookie', 'content-type', 'content-length', 'proxy', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port',
  'x-forwarded-for', 'user-agent', 'x_under', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty',
  'status', 'Status', 'location', 'Location', 'set-cookie', 'Set-Cookie', 'transfer-encoding', 'connection', 'content-encoding',
  'x-a\r\nx-b', 'x-a\n', 'x\0', ' x-sp', 'x-sp ', '', 'x:y', 'é', 'X-Ok', 'x-ok',
];
const HEADER_VALUES = [
  'ok', '', ' ', '302', '200 OK', '404', '99', '600', '1xx', '/elsewhere', 'https://example.com/', 'example.com:8080', 'example.com:',
  '[::1]:8080', 'https', 'HTTPS', 'a, b', 'a=1; b=2', '1\r\nSet-Cookie: evil=1', 'a\nb', 'a\rb', 'a\0b', 'a\tb', 'a\x7fb', 'a\x1bb',
  'é', 'ü\r\n', '\u2028', '\u0085', '\ud800', '\udfff', '\uffff', '😀', 'evil.example\r\nX-Injected: 1',
];
const headerName = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...HEADER_NAMES) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) });
const headerValue = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HEADER_VALUES) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.array(fc.constantFrom(...HEADER_VALUES), { minLength: 2, maxLength: 3 }).map((parts) => parts.join('')) },
);
/** A header table as an object with own keys, '__proto__' included (Object.fromEntries defines, never sets). */
const headerTable = fc.array(fc.tuple(headerName, fc.array(headerValue, { maxLength: 3 })), { maxLength: 8 })
  .map((entries) => Object.fromEntries(entries) as Record<string, string[]>);

// ---------------------------------------------------------------------------------------------

const context: CgiContext = { serverSoftware: 'php-wasm-server/fuzz', documentRoot: '/docroot' };
const fallbackTarget: ScriptTarget = { relPath: 'index.php', scriptName: '/index.php', pathInfo: '' };
const fuzzView = createDocrootView(root);

t.test('toCgi: no CR, LF or NUL in any meta-variable or header PHP gets, never throws', async (t) => {
  const request = fc.record({
    url: rawUrl,
    method: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PROPFIND'),
    httpVersion: fc.constantFrom('1.0', '1.1'),
    headers: headerTable,
    tls: fc.boolean(),
    fromTrustedProxy: fc.boolean(),
    bodyLength: fc.option(fc.nat()),
  });
  checkProperty(t, 'toCgi', fc.property(request, (input) => {
    // The target is what the router made of the same URL, as in the server; else a plain script.
    const resolution = resolveRequest(input.url, fuzzView);
    const target = resolution.type === 'php' ? resolution : fallbackTarget;
    const cgiRequest: CgiRequest = {
      method: input.method,
      rawUrl: input.url,
      httpVersion: input.httpVersion,
      headers: input.headers,
      peerAddress: '203.0.113.7',
      peerPort: 54321,
      localAddress: '192.0.2.1',
      localPort: 3000,
      tls: input.tls,
      fromTrustedProxy: input.fromTrustedProxy,
      clientAddress: '198.51.100.9',
      bodyLength: input.bodyLength,
    };
    const job = toCgi(cgiRequest, target, context);
    const fail = (why: string) => { throw new Error(`${why}: ${JSON.stringify({ input, target, job })}`); };
    for (const [name, value] of Object.entries(job.server)) {
      if (!/^[A-Z][A-Z0-9_]*$/.test(name)) fail(`meta-variable name ${JSON.stringify(name)}`);
      if (typeof value !== 'string') fail(`meta-variable ${name} is not a string`);
      if (CONTROL.test(value)) fail(`CR, LF or NUL in meta-variable ${name}`);
    }
    if ('HTTP_PROXY' in job.server) fail('HTTP_PROXY set from a client header (httpoxy)');
    for (const [name, value] of Object.entries(job.headers)) {
      if (!['host', 'cookie', 'content-type'].includes(name)) fail(`header ${name} handed to php.wasm`);
      if (typeof value !== 'string' || CONTROL.test(value)) fail(`CR, LF or NUL in header ${name} handed to php.wasm`);
    }
    for (const [field, value] of Object.entries({ scriptPath: job.scriptPath, relativeUri: job.relativeUri, method: job.method })) {
      if (CONTROL.test(value)) fail(`CR, LF or NUL in ${field}`);
    }
    if (job.protocol !== 'http' && job.protocol !== 'https') fail('protocol');
  }));
});

t.test('fromCgi: only valid header names and bytes reach the client, status 200–599, never throws', async (t) => {
  const HOP_BY_HOP = ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer'];
  const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
  const phpStatus = fc.oneof(fc.constantFrom(200, 302, 404, 500, 0, 100, 199, 600, 999, -1), fc.integer({ min: -1000, max: 100_000 }));
  checkProperty(t, 'fromCgi', fc.property(phpStatus, headerTable, (status, phpHeaders) => {
    const head = fromCgi(status, phpHeaders);
    const fail = (why: string) => { throw new Error(`${why}: ${JSON.stringify({ status, phpHeaders, head })}`); };
    if (!Number.isInteger(head.status) || head.status < 200 || head.status > 599) fail(`status ${head.status}`);
    if (Object.getPrototypeOf(head.headers) !== null) fail('header table has a prototype');
    for (const [name, value] of Object.entries(head.headers)) {
      if (!TOKEN.test(name)) fail(`header name ${JSON.stringify(name)} is not a lower-case token`);
      if (name === '__proto__' || name === 'status' || HOP_BY_HOP.includes(name)) fail(`header ${name} passed on`);
      for (const single of Array.isArray(value) ? value : [value]) {
        if (typeof single !== 'string') fail(`header ${name} is not a string`);
        // Node writes header strings one byte per character: anything above 0xff would be mangled.
        if (/[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]/.test(single)) fail(`forbidden byte in header ${name}`);
      }
    }
  }));
});
