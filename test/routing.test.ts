import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDocrootView, meansAbsent } from '../server/docroot-view.js';
import {
  DEFAULT_ROUTE_OPTIONS,
  normalizeSegments,
  resolveRequest,
  type DocrootView,
  type EntryKind,
  type Resolution,
  type RouteOptions,
} from '../server/routing.js';

/**
 * An in-memory docroot: each entry is a file, or a directory when it ends with '/'. Parent folders
 * exist implicitly. `asked` records every path the router looked up, to prove none leaves the root.
 */
function memoryView(entries: string[]): DocrootView & { asked: string[] } {
  const kinds = new Map<string, EntryKind>();
  for (const entry of entries) {
    const isDir = entry.endsWith('/');
    const parts = entry.replace(/\/$/, '').split('/');
    for (let i = 1; i < parts.length; i++) kinds.set(parts.slice(0, i).join('/'), 'dir');
    kinds.set(parts.join('/'), isDir ? 'dir' : 'file');
  }
  const asked: string[] = [];
  return {
    asked,
    kind(relPath: string): EntryKind {
      asked.push(relPath);
      return kinds.get(relPath) ?? null;
    },
  };
}

const SITE = [
  'index.php',
  'hello.txt',
  'a.php',
  'a b.php',
  'sub/index.php',
  'sub/page.php',
  'sub/deeper/index.html',
  'both/index.php',
  'both/index.html',
  'htmlonly/index.html',
  'htmonly/index.htm',
  'empty/',
  'dir.php/index.html',
  'my dir/index.html',
  'assets/upload.jpg',
  'assets/site.css',
  '.env',
  '.htaccess',
  '.HTaccess2',
  'sub/.htpasswd',
  '.git/config',
  '.well-known/security.txt',
  '.well-known/acme-challenge/token',
  '.well-known/.hidden',
  'sub/.well-known/x',
  'wp-content/database/.ht.sqlite',
  'wp-content/database/db.txt',
  'wp-content/debug.log',
  'wp-content/uploads/pic.jpg',
  'private/secret.txt',
  'privateer/ok.txt',
  '%2e%2e/inside.txt',
  '%2e%2e.txt',
];

const site = () => memoryView(SITE);
const noFront: RouteOptions = { ...DEFAULT_ROUTE_OPTIONS, frontController: '' };
const php = (relPath: string, pathInfo = ''): Resolution => ({ type: 'php', relPath, scriptName: '/' + relPath, pathInfo });
const file = (relPath: string): Resolution => ({ type: 'static', relPath });
const redirect = (location: string): Resolution => ({ type: 'redirect', status: 301, location });

t.test('static files and PHP scripts', async (t) => {
  t.same(resolveRequest('/hello.txt', site()), file('hello.txt'));
  t.same(resolveRequest('/assets/site.css', site()), file('assets/site.css'));
  t.same(resolveRequest('/a.php', site()), php('a.php'));
  t.same(resolveRequest('/sub/page.php', site()), php('sub/page.php'));
  t.same(resolveRequest('/a%20b.php', site()), php('a b.php'), 'the script path is decoded');
  t.same(resolveRequest('//hello.txt', site()), file('hello.txt'), 'empty segments collapse');
  t.same(resolveRequest('/sub/./page.php', site()), php('sub/page.php'), '"." segments vanish');
  t.same(resolveRequest('/sub/deeper/../page.php', site()), php('sub/page.php'), '".." inside the root is resolved');
  t.same(resolveRequest('/%68ello.txt', site()), file('hello.txt'), 'unreserved characters may be encoded');
});

t.test('PATH_INFO after a PHP script, decoded', async (t) => {
  t.same(resolveRequest('/a.php/extra/x', site()), php('a.php', '/extra/x'));
  t.same(resolveRequest('/a.php/extra%20x/y%2Bz', site()), php('a.php', '/extra x/y+z'));
  t.same(resolveRequest('/a.php/caf%C3%A9', site()), php('a.php', '/café'), 'UTF-8 is decoded');
  t.same(resolveRequest('/a.php/', site()), php('a.php', '/'), 'a trailing slash alone is PATH_INFO "/"');
  t.same(resolveRequest('/a.php/x/', site()), php('a.php', '/x/'), 'the trailing slash is kept');
  t.same(resolveRequest('/sub/page.php/b.php', site()), php('sub/page.php', '/b.php'), 'the first PHP file is the script');
  t.same(resolveRequest('/index.php/wp-json/wp/v2', site()), php('index.php', '/wp-json/wp/v2'));
});

t.test('a directory without its trailing slash is redirected, query kept', async (t) => {
  t.same(resolveRequest('/sub', site()), redirect('/sub/'));
  t.same(resolveRequest('/sub?x=1&y=%20z', site()), redirect('/sub/?x=1&y=%20z'));
  t.same(resolveRequest('/sub/deeper?q', site()), redirect('/sub/deeper/?q'));
  t.same(resolveRequest('/my%20dir', site()), redirect('/my%20dir/'), 'the location stays encoded');
  t.same(resolveRequest('/sub/.', site()), redirect('/sub/'));
  t.same(resolveRequest('/empty', site()), redirect('/empty/'), 'even a directory without index');
  // "//evil.example/../sub/" is a protocol-relative URL: a browser would leave for evil.example.
  for (const url of ['//evil.example/../sub', '//evil.example/%2e%2e/sub', '///evil.example/../sub?a=b']) {
    const result = resolveRequest(url, site());
    t.equal(result.type, 'redirect', `${url} redirects`);
    const location = result.type === 'redirect' ? result.location : '';
    t.notOk(location.startsWith('//'), `${url} → ${location} is not protocol-relative`);
    t.ok(location.startsWith('/sub/'), `${url} → ${location} stays on this host`);
  }
});

t.test('directory index: index.php, then index.html', async (t) => {
  t.same(resolveRequest('/', site()), php('index.php'));
  t.same(resolveRequest('/sub/', site()), php('sub/index.php'));
  t.same(resolveRequest('/sub/deeper/', site()), file('sub/deeper/index.html'));
  t.same(resolveRequest('/both/', site()), php('both/index.php'), 'index.php before index.html');
  t.same(resolveRequest('/htmlonly/', site()), file('htmlonly/index.html'));
  t.same(resolveRequest('/my%20dir/', site()), file('my dir/index.html'));
  t.same(resolveRequest('/dir.php/', site()), file('dir.php/index.html'), 'a folder named *.php is not a script');
  t.same(resolveRequest('/sub/?a=b', site()), php('sub/index.php'));
  t.match(resolveRequest('/empty/', site()), { type: 'error', status: 403 }, 'a directory without index is not listed');
  t.match(resolveRequest('/', memoryView(['hello.txt'])), { type: 'error', status: 404 }, 'a root without index and no front controller');
  t.same(resolveRequest('/', memoryView(['index.html', 'index.htm'])), file('index.html'));
});

t.test('deny prefixes match case-insensitively and in normalised form', async (t) => {
  const options = { ...DEFAULT_ROUTE_OPTIONS, deny: ['./Private//', '/wp-content/database/'] };
  const view = memoryView(['private/a.txt', 'wp-content/database/x.sqlite', 'privateer.txt']);
  t.match(resolveRequest('/private/a.txt', view, options), { type: 'error', status: 403 });
  t.match(resolveRequest('/PRIVATE/a.txt', view, options), { type: 'error', status: 403 });
  t.match(resolveRequest('/WP-CONTENT/Database/x.sqlite', view, options), { type: 'error', status: 403 });
  t.same(resolveRequest('/privateer.txt', view, options), { type: 'static', relPath: 'privateer.txt' }, 'a prefix of a name is not a folder');
});

t.test('missing assets with a listed extension are a plain 404, never the front controller', async (t) => {
  const assets = { ...DEFAULT_ROUTE_OPTIONS, assetExtensions: ['js', 'css'] };
  t.match(resolveRequest('/wp-includes/js/nope.min.js', site(), assets), { type: 'error', status: 404 });
  t.match(resolveRequest('/theme/STYLE.CSS?ver=1', site(), assets), { type: 'error', status: 404 }, 'extension compared case-insensitively');
  t.same(resolveRequest('/feed.xml', site(), assets), php('index.php'), 'other extensions still reach the front controller');
  t.same(resolveRequest('/nope.js', site()), php('index.php'), 'without the list: front controller');
});

t.test('missing paths go to the front controller when it exists', async (t) => {
  t.same(resolveRequest('/nope', site()), php('index.php'));
  t.same(resolveRequest('/2024/01/hello-world/', site()), php('index.php'));
  t.same(resolveRequest('/sub/nope/deeper.php', site()), php('index.php'), 'the missing part is not PATH_INFO');
  t.same(resolveRequest('/nope?p=1', site()), php('index.php'));
  t.match(resolveRequest('/nope', memoryView(['hello.txt'])), { type: 'error', status: 404 }, 'no front controller file: 404');
  t.match(resolveRequest('/nope', site(), noFront), { type: 'error', status: 404 }, "frontController '' means 404");
  t.same(resolveRequest('/nope', site(), { ...DEFAULT_ROUTE_OPTIONS, frontController: '/sub/page.php' }), php('sub/page.php'));
  t.match(resolveRequest('/nope', site(), { ...DEFAULT_ROUTE_OPTIONS, frontController: '/missing.php' }), { type: 'error', status: 404 });
  t.same(resolveRequest('/hello.txt', site(), noFront), file('hello.txt'), 'existing files do not need it');
});

t.test('the front controller runs only if it is a .php file inside the docroot (found by the fuzz test)', async (t) => {
  // Any file "exists" here, so only the router's own rules can refuse.
  const anything: DocrootView = { kind: (relPath) => (relPath === 'nope' ? null : 'file') };
  for (const frontController of ['/index.html', '/.env', '/hello.txt', '/x.phtml', '/x.php.jpg', '/../outside/index.php', '/../../index.php']) {
    t.match(resolveRequest('/nope', anything, { ...DEFAULT_ROUTE_OPTIONS, frontController }), { type: 'error', status: 404 }, frontController);
  }
  t.same(resolveRequest('/nope', anything, { ...DEFAULT_ROUTE_OPTIONS, frontController: '/app/../INDEX.PHP' }), php('INDEX.PHP'), 'normalised, extension in any case');
  t.same(resolveRequest('/nope', site(), { ...DEFAULT_ROUTE_OPTIONS, frontController: 'sub//page.php' }), php('sub/page.php'));
});

t.test('control characters in the path or the request target: 400, never PATH_INFO (found by the fuzz test)', async (t) => {
  for (const url of ['/index.php/%0d%0aX-Injected:%201', '/index.php/%0a', '/a.php%0d', '/sub/page.php/x%09y', '/%7f', '/nope%1b', '/a\r\nb', '/sub?\r\nX: y', '/a.php?x=\n', '/\x7f']) {
    const result = resolveRequest(url, site());
    t.match(result, { type: 'error', status: 400 }, JSON.stringify(url));
  }
  t.same(resolveRequest('/a.php?x=%0d%0a', site()), php('a.php'), 'encoded in the query string: the script decides');
});

t.test('only files with a PHP extension run: /upload.jpg/x.php neither runs nor serves upload.jpg', async (t) => {
  for (const url of ['/assets/upload.jpg/x.php', '/assets/upload.jpg/x.php/y', '/assets/upload.jpg/', '/hello.txt/', '/hello.txt/index.php']) {
    const result = resolveRequest(url, site());
    t.match(result, { type: 'error', status: 404 }, url);
    t.not(result.type, 'php', `${url} does not run PHP`);
  }
});

t.test('dotfiles and .ht* are denied; /.well-known/ only at the top', async (t) => {
  for (const url of ['/.env', '/.git/config', '/.git', '/.git/', '/sub/.htpasswd', '/.nothing-here', '/%2eenv', '/.well-known/.hidden', '/sub/.well-known/x']) {
    t.match(resolveRequest(url, site()), { type: 'error', status: 403 }, url);
  }
  for (const url of ['/.htaccess', '/.HTaccess2', '/wp-content/database/.ht.sqlite', '/%2Ehtaccess']) {
    t.match(resolveRequest(url, site()), { type: 'error', status: 403, reason: 'server configuration file' }, url);
  }
  t.same(resolveRequest('/.well-known/security.txt', site()), file('.well-known/security.txt'));
  t.same(resolveRequest('/.well-known/acme-challenge/token', site()), file('.well-known/acme-challenge/token'));
  t.match(resolveRequest('/.well-known/../.env', site()), { type: 'error', status: 403 }, 'no escape through .well-known');
  t.match(resolveRequest('/.env', site(), noFront), { type: 'error', status: 403 });
});

t.test('deny prefixes give 403, however the path is spelled', async (t) => {
  const options: RouteOptions = { ...DEFAULT_ROUTE_OPTIONS, deny: ['wp-content/database/', '/private', 'wp-content/debug.log'] };
  for (const url of [
    '/wp-content/database/db.txt',
    '/wp-content/database',
    '/wp-content/database/',
    '/wp-content//database/db.txt',
    '/wp-content/./database/db.txt',
    '/wp-content/uploads/../database/db.txt',
    '/wp-content/%64atabase/db.txt',
    '/wp-content/database/missing',
    '/private',
    '/private/secret.txt',
    '/wp-content/debug.log',
    '/wp-content/debug.log/x',
  ]) {
    t.match(resolveRequest(url, site(), options), { type: 'error', status: 403 }, url);
  }
  t.same(resolveRequest('/privateer/ok.txt', site(), options), file('privateer/ok.txt'), 'a prefix matches whole segments');
  t.same(resolveRequest('/wp-content/uploads/pic.jpg', site(), options), file('wp-content/uploads/pic.jpg'));
  t.same(resolveRequest('/private/secret.txt', site()), file('private/secret.txt'), 'without the option it is served');
});

t.test('traversal in every encoding never leaves the root', async (t) => {
  const attacks: Array<[string, number]> = [
    ['/../etc/passwd', 400],
    ['/a/../../x', 400],
    ['/sub/deeper/../../../etc/passwd', 400],
    ['/./../etc/passwd', 400],
    ['/a.php/../../etc/passwd', 400],
    ['/%2e%2e/etc/passwd', 400],
    ['/.%2e/etc/passwd', 400],
    ['/%2e./etc/passwd', 400],
    ['/%2E%2E%2Fetc/passwd', 400],
    ['/%2e%2e%2fetc%2fpasswd', 400],
    ['/..%2fetc/passwd', 400],
    ['/..%2Fetc/passwd', 400],
    ['/index.php/..%2f..%2fetc/passwd', 400],
    ['/..\\etc\\passwd', 400],
    ['/\\..\\etc\\passwd', 400],
    ['/sub\\..\\..\\etc\\passwd', 400],
    ['/%5c..%5cetc/passwd', 400],
    ['/..%5c..%5cetc/passwd', 400],
    ['/..%5C..%5Cetc/passwd', 400],
    ['/hello.txt%00.php', 400],
    ['/a.php%00', 400],
    ['/%00', 400],
    ['/%00/../etc/passwd', 400],
    ['/%c0%ae%c0%ae/etc/passwd', 400],
    ['/%c0%ae%c0%ae%c0%afetc/passwd', 400],
    ['/%e0%80%ae%e0%80%ae/etc/passwd', 400],
    ['/%c0%af', 400],
    ['/%zz', 400],
    ['/%', 400],
    ['/%2', 400],
    ['/%%32%65%%32%65/etc/passwd', 400],
    ['/%252e%252e/etc/passwd', 404],
    ['/%252e%252e%252fetc%252fpasswd', 404],
    ['/%ef%bc%8e%ef%bc%8e/etc/passwd', 404],
    ['*', 400],
    ['', 400],
    ['http://evil.example/../etc/passwd', 400],
    ['etc/passwd', 400],
  ];
  for (const [url, status] of attacks) {
    for (const [label, options] of [['no front controller', noFront], ['front controller', DEFAULT_ROUTE_OPTIONS]] as const) {
      const view = site();
      const result = resolveRequest(url, view, options);
      const looked = view.asked.filter((p) => p.split('/').includes('..') || p.startsWith('/') || p.includes('\\') || p.includes('\0'));
      t.same(looked, [], `${url} (${label}): no lookup outside the root`);
      if (label === 'no front controller') {
        t.match(result, { type: 'error', status }, `${url} → ${status}`);
      } else {
        // The front controller may take a missing path; nothing else may come back.
        t.ok(result.type === 'error' ? [400, 403, 404].includes(result.status) : result.type === 'php' && result.relPath === 'index.php',
          `${url} (${label}) → error or the front controller`);
      }
    }
  }
});

t.test('double encoding is decoded once: %252e%252e is the literal name "%2e%2e"', async (t) => {
  const view = site();
  t.same(resolveRequest('/%252e%252e/inside.txt', view), file('%2e%2e/inside.txt'));
  t.ok(view.asked.includes('%2e%2e'), 'the literal segment was looked up');
  t.same(resolveRequest('/%252e%252e.txt', site()), file('%2e%2e.txt'));
  t.same(resolveRequest('/%252fhello.txt', site(), noFront), { type: 'error', status: 404, reason: 'not found' }, '%252f is a name, not a slash');
});

t.test('the query string never affects resolution', async (t) => {
  const urls = ['/hello.txt', '/a.php', '/a.php/x', '/sub/', '/nope', '/.env', '/assets/upload.jpg/x.php', '/', '/empty/'];
  const queries = ['?x=../../etc/passwd', '?/b.php', '?%00', '?%zz', '?a=%2f%5c', '?\\..\\', '?.env', '?', '?q=/sub/page.php'];
  for (const url of urls) {
    const plain = resolveRequest(url, site());
    for (const query of queries) t.same(resolveRequest(url + query, site()), plain, `${url}${query}`);
  }
  t.same(resolveRequest('/hello.txt%3Fx=1', site(), noFront), { type: 'error', status: 404, reason: 'not found' }, 'an encoded ? belongs to the path');
});

t.test('normalizeSegments', async (t) => {
  t.same(normalizeSegments('/'), []);
  t.same(normalizeSegments('/a/./b//c/..'), ['a', 'b']);
  t.same(normalizeSegments('/a/b/../../c'), ['c']);
  t.equal(normalizeSegments('/..'), null);
  t.equal(normalizeSegments('/a/../..'), null);
  t.equal(normalizeSegments('/a/../../b/..'), null, 'climbing out once is enough, even if it comes back');
  t.same(normalizeSegments('/...'), ['...'], '"..." is a name');
});

t.test('createDocrootView: symlinks are followed only inside the docroot', async (t) => {
  const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'routing-view-')));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const root = path.join(tmp, 'root');
  const outside = path.join(tmp, 'outside');
  const sibling = path.join(tmp, 'root-evil'); // shares the root's name as a string prefix
  fs.mkdirSync(path.join(root, 'd', 'e'), { recursive: true });
  fs.mkdirSync(path.join(outside, 'inner'), { recursive: true });
  fs.mkdirSync(sibling);
  fs.writeFileSync(path.join(root, 'a.txt'), 'a');
  fs.writeFileSync(path.join(root, 'index.php'), '<?php');
  fs.writeFileSync(path.join(root, 'd', 'b.txt'), 'b');
  fs.writeFileSync(path.join(outside, 'secret.txt'), 'secret');
  fs.writeFileSync(path.join(outside, 'inner', 'deep.txt'), 'deep');
  fs.writeFileSync(path.join(sibling, 'x.txt'), 'x');
  fs.symlinkSync('../outside/secret.txt', path.join(root, 'link-out.txt'));
  fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(root, 'abs-out.txt'));
  fs.symlinkSync('a.txt', path.join(root, 'link-in.txt'));
  fs.symlinkSync('../a.txt', path.join(root, 'd', 'up-in.txt'));
  fs.symlinkSync('d', path.join(root, 'dir-in'));
  fs.symlinkSync('../outside', path.join(root, 'dir-out'));
  fs.symlinkSync('link-out.txt', path.join(root, 'chain-out.txt'));
  fs.symlinkSync('missing.txt', path.join(root, 'dangling.txt'));
  fs.symlinkSync('../root-evil', path.join(root, 'sibling'));
  fs.symlinkSync('..', path.join(root, 'd', 'e', 'up-up'));
  fs.symlinkSync('../../..', path.join(root, 'd', 'e', 'up3'));

  const view = createDocrootView(root);
  t.equal(view.kind('a.txt'), 'file');
  t.equal(view.kind('d'), 'dir');
  t.equal(view.kind('d/b.txt'), 'file');
  t.equal(view.kind('missing'), null);
  t.equal(view.kind('link-out.txt'), null, 'relative symlink to a file outside');
  t.equal(view.kind('abs-out.txt'), null, 'absolute symlink to a file outside');
  t.equal(view.kind('chain-out.txt'), null, 'a chain that ends outside');
  t.equal(view.kind('dangling.txt'), null);
  t.equal(view.kind('link-in.txt'), 'file', 'symlink to a file inside is followed');
  t.equal(view.kind('d/up-in.txt'), 'file');
  t.equal(view.kind('dir-in'), 'dir', 'symlinked directory inside');
  t.equal(view.kind('dir-in/b.txt'), 'file');
  t.equal(view.kind('dir-out'), null, 'symlinked directory outside');
  t.equal(view.kind('dir-out/secret.txt'), null, 'everything below it is hidden');
  t.equal(view.kind('dir-out/inner'), null);
  t.equal(view.kind('dir-out/inner/deep.txt'), null);
  t.equal(view.kind('sibling'), null, 'a sibling folder whose name starts like the root');
  t.equal(view.kind('sibling/x.txt'), null);
  t.equal(view.kind('d/e/up-up'), 'dir', 'a link back up to a folder inside');
  t.equal(view.kind('d/e/up3'), null, 'a link up past the root');
  t.equal(view.kind('d/e/up3/outside/secret.txt'), null);
  t.equal(view.kind('../outside/secret.txt'), null, 'a raw ".." path is refused too');

  // The same through the router, with and without a front controller.
  t.same(resolveRequest('/link-in.txt', view, noFront), file('link-in.txt'));
  t.same(resolveRequest('/dir-in/b.txt', view, noFront), file('dir-in/b.txt'));
  for (const url of ['/link-out.txt', '/abs-out.txt', '/dir-out/secret.txt', '/dir-out/inner/deep.txt', '/sibling/x.txt', '/d/e/up3/outside/secret.txt']) {
    t.match(resolveRequest(url, view, noFront), { type: 'error', status: 404 }, `${url} → 404`);
    t.same(resolveRequest(url, view), php('index.php'), `${url} → front controller, never the file`);
  }
  t.same(resolveRequest('/dir-out', view), php('index.php'), 'no redirect into an outside folder');

  // A docroot given through a symlink still works, with the same rules.
  const rootLink = path.join(tmp, 'root-link');
  fs.symlinkSync(root, rootLink);
  const viaLink = createDocrootView(rootLink);
  t.equal(viaLink.kind('a.txt'), 'file');
  t.equal(viaLink.kind('link-in.txt'), 'file');
  t.equal(viaLink.kind('link-out.txt'), null);
  t.equal(viaLink.kind('dir-out/secret.txt'), null);
});

t.test('createDocrootView cache: answers are reused for cacheMs, then asked again', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pws-view-cache-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  let now = 1_000;
  const cached = createDocrootView(root, { cacheMs: 200, now: () => now });
  const uncached = createDocrootView(root);
  t.equal(cached.kind('late.txt'), null, 'absent at first');
  fs.writeFileSync(path.join(root, 'late.txt'), 'x');
  t.equal(uncached.kind('late.txt'), 'file', 'without a cache the new file is seen at once');
  now += 199;
  t.equal(cached.kind('late.txt'), null, 'within cacheMs the earlier answer is reused');
  now += 1;
  t.equal(cached.kind('late.txt'), 'file', 'after cacheMs the filesystem is asked again');
});

t.test('PHP-like names that do not run are refused, never static; .php in any case runs', async (t) => {
  const view = memoryView(['a.phtml', 'b.php5', 'c.phar', 'd.phps', 'e.php.jpg', 'up/F.PHTML', 'g.PHP', 'h.pHp', 'notphp.txt', 'php.txt', 'phpinfo.html']);
  for (const path of ['/a.phtml', '/b.php5', '/c.phar', '/d.phps', '/e.php.jpg', '/up/F.PHTML']) {
    t.match(resolveRequest(path, view), { type: 'error', status: 403 }, path);
  }
  t.match(resolveRequest('/g.PHP', view), { type: 'php', relPath: 'g.PHP' });
  t.match(resolveRequest('/h.pHp', view), { type: 'php', relPath: 'h.pHp' });
  for (const path of ['/notphp.txt', '/php.txt', '/phpinfo.html']) t.match(resolveRequest(path, view), { type: 'static' }, `${path}: "php" in a name is not an extension`);
});

t.test('static files take GET and HEAD only; PHP takes any method', async (t) => {
  const view = memoryView(['hello.txt', 'a.php', 'sub/index.html']);
  t.match(resolveRequest('/hello.txt', view, DEFAULT_ROUTE_OPTIONS, 'HEAD'), { type: 'static' });
  for (const method of ['POST', 'PUT', 'DELETE', 'TRACE', 'OPTIONS', 'PROPFIND']) {
    t.same(resolveRequest('/hello.txt', view, DEFAULT_ROUTE_OPTIONS, method), { type: 'error', status: 405, reason: `${method} on a static file`, allow: 'GET, HEAD' }, method);
    t.match(resolveRequest('/sub/', view, DEFAULT_ROUTE_OPTIONS, method), { status: 405 }, `${method} on a static index`);
    t.match(resolveRequest('/a.php', view, DEFAULT_ROUTE_OPTIONS, method), { type: 'php' }, `${method} on PHP`);
  }
});

t.test('control characters in the decoded path are refused (they would reach PHP in PATH_INFO)', async (t) => {
  const view = { kind: (p: string) => (p === 'index.php' ? 'file' : p === '' ? 'dir' : null) } as const;
  t.match(resolveRequest('/index.php/%0d%0aX-Injected:%201', view as never), { type: 'error', status: 400 });
  t.match(resolveRequest('/index.php/a%09b', view as never), { type: 'error', status: 400 });
  t.match(resolveRequest('/index.php/a%7f', view as never), { type: 'error', status: 400 });
  t.match(resolveRequest('/index.php/%00', view as never), { type: 'error', status: 400, reason: 'NUL byte in path' });
  t.match(resolveRequest('/index.php/caf%C3%A9', view as never), { type: 'php', pathInfo: '/café' }, 'non-ASCII is fine');
});

t.test('createDocrootView: only "no such file" errors mean absent; any other fails loudly', async (t) => {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'routing-errors-')));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const failWith = (code: string) => () => { throw Object.assign(new Error(`${code}: staged`), { code }); };
  for (const code of ['ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG']) {
    t.equal(createDocrootView(root, { host: { realpath: failWith(code), isFileOrDir: () => 'file' } }).kind('x.php'), null, `${code} on realpath: absent`);
    t.equal(createDocrootView(root, { host: { realpath: (p) => p, isFileOrDir: failWith(code) } }).kind('x.php'), null, `${code} on stat: absent`);
  }
  for (const code of ['EACCES', 'EMFILE', 'EIO']) {
    const onRealpath = createDocrootView(root, { host: { realpath: failWith(code), isFileOrDir: () => 'file' } });
    t.throws(() => onRealpath.kind('x.php'), { code }, `${code} on realpath is an error, not "absent"`);
    const onStat = createDocrootView(root, { host: { realpath: (p) => p, isFileOrDir: failWith(code) } });
    t.throws(() => onStat.kind('x.php'), { code }, `${code} on stat is an error`);
    // Routed, the file would otherwise go to the front controller as if it did not exist.
    t.throws(() => resolveRequest('/x.php', onStat), { code }, `${code}: the request is not routed to the front controller`);
  }
  t.equal(meansAbsent(Object.assign(new Error('x'), { code: 'EACCES' })), false);
  t.equal(meansAbsent(undefined), false);
});
