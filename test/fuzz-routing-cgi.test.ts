/**
 * Property tests (fast-check, fixed seed, bounded runs) of the two pure functions every request
 * passes through, against a real docroot on disk with traps in it:
 * - resolveRequest: whatever the path, encoding or method, nothing outside the docroot is ever
 *   resolved, only an existing `.php` file executes, and PHP-like files are never served as text;
 * - toCgi / fromCgi: no CR, LF or NUL in anything that reaches PHP or the client, whatever the headers.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { fromCgi, toCgi, type CgiRequest } from '../server/cgi.js';
import { createDocrootView } from '../server/docroot-view.js';
import { DEFAULT_ROUTE_OPTIONS, resolveRequest } from '../server/routing.js';

const SEED = 20261203;
const RUNS = 3000;
const check = <T>(property: fc.IProperty<T>) => fc.assert(property, { seed: SEED, numRuns: RUNS, endOnFailure: true });

const base = mkdtempSync(join(tmpdir(), 'pws-fuzz-'));
t.teardown(() => rmSync(base, { recursive: true, force: true }));
const docroot = join(base, 'docroot');
const outside = join(base, 'outside');
for (const dir of ['dir/sub', '.hidden', 'wp-content/database', 'empty']) mkdirSync(join(docroot, dir), { recursive: true });
mkdirSync(outside);
const files = ['index.php', 'a.php', 'A.PHP', 'dir/b.php', 'dir/index.html', 'dir/sub/c.txt', 'static.txt', 'x.php.jpg', 'y.phtml', 'z.php5', 'w.phar',
  '.hidden/secret.php', '.env', 'wp-content/database/.ht.sqlite', 'dir/sub/page.php'];
for (const file of files) writeFileSync(join(docroot, file), '<?php echo 1;');
writeFileSync(join(outside, 'evil.php'), '<?php echo "outside";');
writeFileSync(join(outside, 'secret.txt'), 'outside');
symlinkSync(outside, join(docroot, 'link-out'));
symlinkSync(join(outside, 'evil.php'), join(docroot, 'evil-link.php'));
symlinkSync(join(docroot, 'dir'), join(docroot, 'link-in'));
const root = realpathSync(docroot);
const view = createDocrootView(root);
const options = { ...DEFAULT_ROUTE_OPTIONS, deny: ['wp-content/database/'] };

const PHP_LIKE = /\.(php\d*|phtml|pht|phar|phps)(\.|$)/i;

/** Path segments an attacker would try, plus random ones. */
const segment = fc.oneof(
  fc.constantFrom('', '.', '..', 'index.php', 'a.php', 'A.PHP', 'dir', 'sub', 'b.php', 'c.txt', 'page.php', 'static.txt', 'x.php.jpg', 'y.phtml',
    'z.php5', 'w.phar', '.hidden', 'secret.php', '.env', 'wp-content', 'database', '.ht.sqlite', 'link-out', 'evil.php', 'evil-link.php', 'link-in',
    'secret.txt', 'empty', 'index.html', 'outside'),
  fc.constantFrom('%2e%2e', '%2E%2e', '.%2e', '%2e.', '%c0%ae%c0%ae', '%c0%2e', '%e0%80%ae', '%252e%252e', '%2f', '%5c', '..%5c', '..\\', '%00',
    'a.php%00.txt', 'a.php%00', '%0d%0aX-Injected:%201', '%0a', '%09', '%7f', 'index.php%20', 'a.php.', 'a.php::$DATA', 'A.pHp', '%61.php', 'a%2ephp', '%ff', '%', '%zz', '~', ';', 'a.php;x'),
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 6 }).map(encodeURIComponent),
);
const urlPath = fc.array(segment, { minLength: 1, maxLength: 7 }).map((parts) => '/' + parts.join('/'));
const query = fc.option(fc.string({ maxLength: 10 }).map((q) => '?' + q), { nil: '' });
const method = fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'TRACE', 'OPTIONS', 'PROPFIND');

function insideDocroot(relPath: string): boolean {
  const real = realpathSync(join(root, relPath));
  return real === root || real.startsWith(root + sep);
}

t.test('resolveRequest: nothing outside the docroot, only .php executes, PHP-like files never served', async (t) => {
  let resolved = 0;
  check(fc.property(urlPath, query, method, (path, q, verb) => {
    const result = resolveRequest(path + q, view, options, verb);
    if (result.type === 'redirect') {
      if (!result.location.startsWith('/') || /^\/[/\\]/.test(result.location)) throw new Error(`redirect off the site: ${result.location}`);
      return;
    }
    if (result.type !== 'static' && result.type !== 'php') return;
    resolved++;
    const { relPath } = result;
    if (relPath.includes('\0') || relPath.split('/').includes('..')) throw new Error(`suspicious path ${JSON.stringify(relPath)} for ${path}`);
    if (!statSync(join(root, relPath)).isFile()) throw new Error(`not a file: ${relPath} for ${path}`);
    if (!insideDocroot(relPath)) throw new Error(`outside the docroot: ${relPath} for ${path}`);
    if (relPath.startsWith('.') || relPath.includes('/.')) throw new Error(`dotfile resolved: ${relPath} for ${path}`);
    if (relPath.startsWith('wp-content/database/')) throw new Error(`denied prefix resolved: ${relPath}`);
    if (result.type === 'php' && !/\.php$/i.test(relPath)) throw new Error(`non-.php executes: ${relPath} for ${path}`);
    if (result.type === 'php' && /[\x00-\x1f\x7f]/.test(result.pathInfo + result.scriptName)) throw new Error(`control character in PATH_INFO/SCRIPT_NAME for ${path}`);
    if (result.type === 'static' && PHP_LIKE.test(relPath)) throw new Error(`PHP-like file served as text: ${relPath} for ${path}`);
    if (result.type === 'static' && !['GET', 'HEAD'].includes(verb)) throw new Error(`${verb} served a static file`);
  }));
  t.ok(resolved > RUNS / 20, `the generator reaches real files (${resolved} of ${RUNS} resolved)`);
});

/** Header names and values as an attacker (or a broken proxy) would send them. */
const nasty = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('a\r\nX-Injected: 1', 'x\n', '\r', 'nul\0byte', 'é', '__proto__', 'constructor'));
const headerName = fc.oneof(fc.constantFrom('host', 'cookie', 'content-type', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'proxy', 'x_under', '__proto__'), fc.string({ maxLength: 10 }).map((s) => s.toLowerCase()));
const headers = fc.dictionary(headerName, fc.array(nasty, { minLength: 1, maxLength: 3 }), { maxKeys: 8 });
const printable = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 30 });

t.test('toCgi: no CR, LF or NUL reaches PHP, whatever the headers', async () => {
  check(fc.property(headers, printable, fc.boolean(), (given, rawPath, trusted) => {
    const request: CgiRequest = {
      method: 'GET', rawUrl: '/' + rawPath, httpVersion: '1.1', headers: given,
      peerAddress: '127.0.0.1', peerPort: 5000, localAddress: '127.0.0.1', localPort: 8087, tls: false,
      fromTrustedProxy: trusted, clientAddress: '127.0.0.1', bodyLength: null,
    };
    const job = toCgi(request, { relPath: 'index.php', scriptName: '/index.php', pathInfo: '' }, { serverSoftware: 'test', documentRoot: '/docroot' });
    for (const [name, value] of [...Object.entries(job.server), ...Object.entries(job.headers)]) {
      if (/[\0\r\n]/.test(value)) throw new Error(`${name} carries a control byte: ${JSON.stringify(value)}`);
      if (/[\0\r\n]/.test(name)) throw new Error(`a meta-variable name with a control byte: ${JSON.stringify(name)}`);
    }
    if (Object.keys(job.server).some((name) => name.startsWith('HTTP_') && !/^HTTP_[A-Z0-9_]+$/.test(name))) throw new Error('odd HTTP_ name');
    if ('HTTP_PROXY' in job.server) throw new Error('httpoxy: HTTP_PROXY reached PHP');
  }));
});

t.test('fromCgi: no CR, LF or NUL reaches the client, and never throws', async () => {
  const phpHeaders = fc.dictionary(fc.oneof(headerName, nasty), fc.array(nasty, { minLength: 1, maxLength: 3 }), { maxKeys: 8 });
  check(fc.property(fc.integer({ min: -5, max: 1000 }), phpHeaders, (status, given) => {
    const head = fromCgi(status, given);
    if (head.status < 200 || head.status > 599) throw new Error(`status ${head.status}`);
    for (const [name, value] of Object.entries(head.headers)) {
      if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) throw new Error(`header name ${JSON.stringify(name)}`);
      for (const one of [value].flat()) if (/[\0\r\n]/.test(one)) throw new Error(`${name} carries a control byte`);
    }
  }));
});
