/**
 * The page cache in front of WordPress (on in the preset): visitors share anonymous pages for a few
 * seconds; nobody gets a page made for someone else; content changes show on the next request.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { submitInstaller } from '../server/wordpress/install.js';
import { CookieClient } from './helpers/browser-like-client.js';
import { tempDir } from './helpers/server.js';
import { logIn, restNonce, startTestWordPress } from './helpers/wordpress.js';
import { reportSetupFailures } from './helpers/setup-failures.js';

reportSetupFailures();

const PASSWORD = 'page-cache-admin-1';
const dataDir = tempDir(t, 'pws-page-cache-');
// A long TTL: whatever shows fresh content below does so because WordPress purged, not because time passed.
const wp = await startTestWordPress(dataDir, { cronInterval: 0, pageCacheTtl: 3600 });
t.teardown(() => wp.close());
t.same(await submitInstaller(wp.url, { title: 'Cached', user: 'admin', password: PASSWORD, email: 'admin@example.com' }), { result: 'installed' });

// A page that sets a cookie for each visitor (as a cart or a consent banner would).
mkdirSync(join(wp.config.dir, 'wp-content', 'mu-plugins'), { recursive: true });
writeFileSync(join(wp.config.dir, 'wp-content', 'mu-plugins', 'visitor-cookie.php'), `<?php
if (parse_url($_SERVER['REQUEST_URI'] ?? '', PHP_URL_PATH) === '/visitor-cookie/') {
  $id = bin2hex(random_bytes(8));
  setcookie('visitor', $id, 0, '/');
  echo "visitor $id"; exit;
}
`);

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${wp.url}${path}`, { headers, redirect: 'manual' });
/** X-Cache of an anonymous GET, read to its end (a page is kept once PHP's response has ended). */
const cacheState = async (path: string) => {
  const response = await get(path);
  await response.arrayBuffer();
  return response.headers.get('x-cache');
};

t.test('an anonymous page: MISS, then HIT with its age, the same body, encoded for who asks', async (t) => {
  const first = await get('/');
  const firstBody = await first.text();
  t.equal(first.headers.get('x-cache'), 'MISS');
  const second = await get('/');
  t.equal(second.headers.get('x-cache'), 'HIT');
  t.match(second.headers.get('age'), /^\d+$/);
  t.equal(await second.text(), firstBody);
  const head = await fetch(`${wp.url}/`, { method: 'HEAD' });
  t.equal(head.headers.get('x-cache'), 'HIT', 'HEAD is answered from the GET page');
  const gzip = await get('/', { 'accept-encoding': 'gzip' });
  t.equal(gzip.headers.get('content-encoding'), 'gzip');
  t.match(gzip.headers.get('vary') ?? '', /accept-encoding/i);
  t.equal(await gzip.text(), firstBody, 'decoded, the same page');
  t.equal(await cacheState('/?utm_source=news'), 'HIT', 'tracking parameters share the page');
  t.equal(await cacheState('/?s=hello'), null, 'a search is never cached');
  writeFileSync(join(wp.config.dir, 'own-script.php'), '<?php echo "own";');
  await cacheState('/own-script.php');
  t.equal(await cacheState('/own-script.php'), null, "a script other than WordPress's front controller is never cached");
});

t.test('a logged-in user never gets a cached page, and never fills it', async (t) => {
  await (await get('/')).arrayBuffer(); // the anonymous page is in the cache
  const admin = await logIn(wp.url, 'admin', PASSWORD);
  const page = await admin.get('/');
  t.equal(page.headers.get('x-cache'), null, 'bypassed');
  t.match(await page.text(), /wp-admin-bar/, 'the page made for the admin (toolbar)');
  const anonymous = await get('/');
  t.equal(anonymous.headers.get('x-cache'), 'HIT');
  t.notMatch(await anonymous.text(), /wp-admin-bar/, "visitors do not get the admin's page");
});

t.test("a visitor never gets another visitor's cookie", async (t) => {
  const one = await get('/visitor-cookie/');
  const two = await get('/visitor-cookie/');
  const cookieOne = one.headers.getSetCookie()[0] ?? '';
  const cookieTwo = two.headers.getSetCookie()[0] ?? '';
  t.match(cookieOne, /^visitor=[0-9a-f]{16}/);
  t.match(cookieTwo, /^visitor=[0-9a-f]{16}/);
  t.not(cookieOne, cookieTwo, 'each visitor got their own');
  t.not(two.headers.get('x-cache'), 'HIT', 'a response that sets a cookie is never kept');
});

t.test('a new comment shows on the next request after it is approved; a held one does not empty the cache', async (t) => {
  const admin = await logIn(wp.url, 'admin', PASSWORD);
  const nonce = await restNonce(admin);
  const post = await admin.request('/?rest_route=/wp/v2/posts', {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-wp-nonce': nonce },
    body: JSON.stringify({ title: 'Cached post', content: 'Body', status: 'publish', comment_status: 'open' }),
  });
  const { id, link } = await post.json() as { id: number; link: string };
  const path = new URL(link).pathname + new URL(link).search;
  t.equal(await cacheState(path), 'MISS');
  t.equal(await cacheState(path), 'HIT');

  // An anonymous visitor comments: WordPress holds a first comment for moderation.
  const visitor = new CookieClient(wp.url);
  const posted = await visitor.postForm('/wp-comments-post.php', { comment: 'A visitor says hello', author: 'Visitor', email: 'visitor@example.com', comment_post_ID: String(id), comment_parent: '0' });
  t.equal(posted.status, 302, 'comment accepted');
  t.equal(await cacheState(path), 'HIT', 'a held comment does not empty the cache');

  const held = await (await admin.request(`/?rest_route=/wp/v2/comments&post=${id}&status=hold`, { headers: { 'x-wp-nonce': nonce } })).json() as Array<{ id: number }>;
  t.equal(held.length, 1);
  const approve = await admin.request(`/?rest_route=/wp/v2/comments/${held[0].id}`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-wp-nonce': nonce }, body: JSON.stringify({ status: 'approved' }),
  });
  t.equal(approve.status, 200);
  t.notOk(approve.headers.has('x-php-wasm-server-purge'), 'the purge signal is the server\'s, never sent on');
  const after = await get(path);
  t.equal(after.headers.get('x-cache'), 'MISS', 'the approval emptied the cache');
  t.match(await after.text(), /A visitor says hello/);
});

t.test('a post saved by the admin shows on the home page at once', async (t) => {
  await cacheState('/');
  t.equal(await cacheState('/'), 'HIT');
  const admin = await logIn(wp.url, 'admin', PASSWORD);
  const nonce = await restNonce(admin);
  await (await admin.request('/?rest_route=/wp/v2/posts', {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-wp-nonce': nonce },
    body: JSON.stringify({ title: 'Fresh news on the home page', content: 'x', status: 'publish' }),
  })).arrayBuffer();
  t.match(await (await get('/')).text(), /Fresh news on the home page/);
});
