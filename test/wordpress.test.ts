/**
 * WordPress + SQLite end to end, over real HTTP against real php.wasm workers and a real SQLite file:
 * install, log in, admin screens, permalinks, REST, comments, media, concurrent writers, restart,
 * secrets, cron. One site for the whole file (steps build on each other, as a user's would).
 */
import { createHash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import t, { type Test } from 'tap';
import { CookieClient } from './helpers/browser-like-client.js';
import { tempDir } from './helpers/server.js';
import { phpErrors, startTestWordPress, type TestWordPress } from './helpers/wordpress.js';
import { until } from './helpers/until.js';

const ADMIN = { user: 'admin', password: 'correct horse battery staple', email: 'admin@example.com' };
const dataDir = tempDir(t, 'pws-wp-');
let server: TestWordPress;
let admin: CookieClient;
/** Each logged-in session has its own REST nonce. */
const restNonces = new Map<CookieClient, string>();
const scheduled = { id: 0 };

t.before(async () => {
  // cronInterval 1 s so the scheduled-post check below takes seconds, not minutes.
  server = await startTestWordPress(dataDir, { cronInterval: 1 });
});
t.teardown(() => server?.close());

async function login(client: CookieClient): Promise<Response> {
  await client.get('/wp-login.php'); // sets wordpress_test_cookie, as a browser visit does
  const response = await client.postForm('/wp-login.php', { log: ADMIN.user, pwd: ADMIN.password, 'wp-submit': 'Log In', redirect_to: '/wp-admin/', testcookie: '1' });
  if (response.status === 302) {
    const nonce = await client.get('/wp-admin/admin-ajax.php?action=rest-nonce');
    restNonces.set(client, (await nonce.text()).trim());
  }
  return response;
}

async function rest(client: CookieClient, method: string, path: string, body?: unknown): Promise<Response> {
  return client.request(`/wp-json${path}`, {
    method,
    headers: { 'x-wp-nonce': restNonces.get(client) ?? '', ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
}

/** A script of the test's own in the site's folder, removed when the subtest ends. */
function probeScript(t: Test, name: string, php: string): void {
  const file = join(server.config.dir, name);
  writeFileSync(file, php);
  t.teardown(() => rmSync(file, { force: true }));
}

/** A real 2×2 PNG, built here so the bytes are known. */
function tinyPng(): Buffer {
  const crc = (buf: Buffer) => {
    let c = ~0;
    for (const byte of buf) {
      c ^= byte;
      for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
    }
    return ~c >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(2, 0);
  header.writeUInt32BE(2, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  const rows = Buffer.from([0, 255, 0, 0, 0, 255, 0, 0, 0, 0, 255, 255, 255, 255]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0)),
  ]);
}

t.test('a first visit gets WordPress\'s own installer, and installing over HTTP works', async (t) => {
  // The installer keeps pretty permalinks only if a page fetched from the site itself answers 200
  // (checked below): the server gives that fetch more than WordPress's 5 s while installing, and
  // here every worker is warm too.
  await until('every worker to be warm', () => server.pool.stats.starting === 0);
  const visitor = new CookieClient(server.url);
  const first = await visitor.get('/');
  t.equal(first.status, 302, 'home redirects while not installed');
  t.match(first.headers.get('location') ?? '', /\/wp-admin\/install\.php$/);
  const installer = await visitor.follow('/wp-admin/install.php');
  const page = await installer.text();
  t.equal(installer.status, 200);
  t.match(page, /name="weblog_title"|step=1/, 'the installer (language or site form) is shown');
  const install = await visitor.postForm('/wp-admin/install.php?step=2', {
    weblog_title: 'PWS Test Site', user_name: ADMIN.user, admin_password: ADMIN.password, admin_password2: ADMIN.password,
    pw_weak: 'on', admin_email: ADMIN.email, blog_public: '1', language: '',
  });
  t.equal(install.status, 200);
  t.match(await install.text(), /Success!|wp-login\.php/, 'installer reports success');
  const home = await visitor.get('/');
  t.equal(home.status, 200);
  t.match(await home.text(), /PWS Test Site/, 'home page renders with the site title');
});

t.test('log in through wp-login.php; dashboard and main admin screens load without PHP errors', async (t) => {
  admin = new CookieClient(server.url);
  const response = await login(admin);
  t.equal(response.status, 302, 'login redirects');
  t.match(response.headers.get('location') ?? '', /\/wp-admin\/$/);
  t.ok(admin.has('wordpress_logged_in_'), 'logged-in cookie set');
  const errorsBefore = phpErrors(server.logs).length;
  for (const [path, marker] of [
    ['/wp-admin/', /Dashboard/],
    ['/wp-admin/edit.php', /Posts/],
    ['/wp-admin/upload.php', /Media Library/],
    ['/wp-admin/plugins.php', /Plugins/],
    ['/wp-admin/site-health.php', /Site Health/],
    ['/wp-admin/options-general.php', /General Settings/],
  ] as const) {
    const page = await admin.get(path);
    const html = await page.text();
    t.equal(page.status, 200, `${path} → 200`);
    t.match(html, marker, `${path} shows its screen`);
    t.notMatch(html, /Fatal error|Parse error|There has been a critical error/, `${path} has no PHP error on the page`);
  }
  // PHP has no network in the sandbox, so WordPress warns once that WordPress.org (translations)
  // is unreachable; that is the sandbox working, not an error of the server.
  const offline = /WordPress\.org|could not establish a secure connection/;
  t.same(phpErrors(server.logs).slice(errorsBefore).filter((m) => !offline.test(m)), [], 'no PHP warnings or errors logged');
  t.match(restNonces.get(admin) ?? '', /^[0-9a-f]{10}$/, 'REST nonce issued to the logged-in user');
});

t.test('"Post name" permalinks: /hello-world/ renders the post', async (t) => {
  const settings = await admin.get('/wp-admin/options-permalink.php');
  const html = await settings.text();
  const wpnonce = /name="_wpnonce" value="([^"]+)"/.exec(html)?.[1];
  t.ok(wpnonce, 'settings form has a nonce');
  t.notMatch(html, /index\.php\/%postname%|PATHINFO/, 'WordPress knows the server rewrites URLs (no /index.php/ links)');
  // The installer tried pretty permalinks by requesting the site from itself (a self-call), and kept them.
  t.match(html, /id="permalink_structure"[^>]*value="\/%year%\/%monthnum%\/%day%\/%postname%\/"/, 'pretty permalinks since install');
  const saved = await admin.postForm('/wp-admin/options-permalink.php', {
    _wpnonce: wpnonce!, _wp_http_referer: '/wp-admin/options-permalink.php', selection: '/%postname%/', permalink_structure: '/%postname%/',
  });
  t.equal(saved.status, 302, 'settings saved');
  // As a browser does: WordPress rebuilds its rewrite rules when the settings page loads again.
  const back = new URL(saved.headers.get('location')!);
  t.equal((await admin.get(back.pathname + back.search)).status, 200, 'the settings page after saving');
  const post = await admin.get('/hello-world/');
  t.equal(post.status, 200);
  t.match(await post.text(), /Hello world!/, 'the sample post renders at its pretty URL');
  const missing = await admin.get('/no-such-post-here/');
  t.equal(missing.status, 404, 'an unknown pretty URL is WordPress\'s 404');
});

t.test('while installing, the self-check request to the site itself may take the request timeout, not 5 s', async (t) => {
  // The installer's permalink check is the site's first front-end page, which a busy machine does
  // not render in WordPress's 5 s; other requests, and requests outside an install, keep theirs.
  probeScript(t, 'pws-install-timeout.php', "<?php if (isset($_GET['installing'])) define('WP_INSTALLING', true); require __DIR__ . '/wp-load.php';"
    + " $timeout = static fn ($url) => apply_filters('http_request_args', ['timeout' => 5], $url)['timeout'];"
    + " echo json_encode([$timeout(home_url('/2020/01/01/hello-world/')), $timeout('https://api.wordpress.org/core/version-check/1.7/')]);");
  const expected = server.config.requestTimeout - 5;
  t.ok(expected > 5, 'the test server gives requests more than 10 s');
  t.same(await (await admin.get('/pws-install-timeout.php?installing=1')).json(), [expected, 5], 'installing: the site itself gets the longer timeout, others keep 5 s');
  t.same(await (await admin.get('/pws-install-timeout.php')).json(), [5, 5], 'not installing: 5 s for all');
});

t.test('an option changed before pluggable.php has loaded is no error (the page cache\'s purge hook)', async (t) => {
  // WordPress schedules its recovery-mode cron event in wp-settings.php, before is_user_logged_in()
  // exists: on a fresh site the installer's self-check page died there with a fatal error.
  probeScript(t, 'pws-early-option.php', "<?php define('SHORTINIT', true); require __DIR__ . '/wp-load.php';"
    + " if (function_exists('is_user_logged_in')) exit('pluggable loaded');"
    + " add_option('pws_early_option', 'first'); echo update_option('pws_early_option', (string) microtime(true)) ? 'updated' : 'not updated';");
  const errorsBefore = phpErrors(server.logs).length;
  const response = await admin.get('/pws-early-option.php');
  t.equal(response.status, 200);
  t.equal(await response.text(), 'updated', 'the option is saved before pluggable.php, without a fatal error');
  t.same(phpErrors(server.logs).slice(errorsBefore), [], 'nothing logged');
});

t.test('REST API with cookie + nonce: create, list, update, delete', async (t) => {
  const created = await rest(admin, 'POST', '/wp/v2/posts', { title: 'REST post', content: 'Made over REST', status: 'publish' });
  t.equal(created.status, 201);
  const post = await created.json() as { id: number; link: string };
  const listed = await (await rest(admin, 'GET', '/wp/v2/posts?per_page=100')).json() as Array<{ id: number }>;
  t.ok(listed.some((p) => p.id === post.id), 'listed');
  const updated = await rest(admin, 'POST', `/wp/v2/posts/${post.id}`, { title: 'REST post, edited' });
  t.equal(updated.status, 200);
  t.equal(((await updated.json()) as { title: { raw: string } }).title.raw, 'REST post, edited');
  const deleted = await rest(admin, 'DELETE', `/wp/v2/posts/${post.id}?force=true`);
  t.equal(deleted.status, 200);
  const gone = await rest(admin, 'GET', `/wp/v2/posts/${post.id}`);
  t.equal(gone.status, 404, 'deleted for good');
  const noNonce = await admin.request('/wp-json/wp/v2/posts', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"title":"x"}' });
  t.equal(noNonce.status, 401, 'cookie without nonce is refused (CSRF protection intact)');
});

t.test('concurrent writers lose nothing: 4 clients × 8 posts, then integrity_check', async (t) => {
  // Log in one after another: WordPress keeps a user's session tokens in one usermeta row, so
  // simultaneous logins of the same user race in WordPress itself (on any server).
  const clients: CookieClient[] = [];
  for (let c = 0; c < 4; c++) {
    const client = new CookieClient(server.url);
    await login(client);
    clients.push(client);
  }
  const titles = clients.flatMap((_, c) => Array.from({ length: 8 }, (_, i) => `parallel ${c}-${i}`));
  const results = await Promise.all(clients.map(async (client, c) => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const response = await rest(client, 'POST', '/wp/v2/posts', { title: `parallel ${c}-${i}`, status: 'publish' });
      statuses.push(response.status);
      await response.arrayBuffer();
    }
    return statuses;
  }));
  t.same(results.flat().filter((s) => s !== 201), [], 'every create answered 201');
  const all = await (await rest(admin, 'GET', '/wp/v2/posts?per_page=100&search=parallel')).json() as Array<{ title: { rendered: string } }>;
  const found = new Set(all.map((p) => p.title.rendered));
  t.same(titles.filter((title) => !found.has(title)), [], 'all 32 posts are there');

  // The database is denied over HTTP; a script of the test's own checks it from inside PHP.
  writeFileSync(join(server.config.dir, 'pws-integrity.php'),
    "<?php $db = new PDO('sqlite:/docroot/wp-content/database/.ht.sqlite');"
    + " echo $db->query('PRAGMA integrity_check')->fetchColumn(), ' ', $db->query('PRAGMA journal_mode')->fetchColumn();");
  const check = await admin.get('/pws-integrity.php');
  const [integrity, journal] = (await check.text()).trim().split(' ');
  t.equal(integrity, 'ok', 'PRAGMA integrity_check: ok');
  t.equal(journal, 'delete', 'journal mode DELETE (WAL is not safe across workers here)');
});

t.test('a post is scheduled (published by WP-Cron, checked near the end)', async (t) => {
  // After the concurrent writers on purpose: publishing posts reschedules WordPress's 'cron' option
  // (one serialized row, read-modify-write), and simultaneous publishes can drop an event on any
  // server. WordPress only schedules posts due at least a minute ahead.
  const at = Date.now() + 3_600_000;
  const future = await rest(admin, 'POST', '/wp/v2/posts', { title: 'Scheduled', status: 'future', date_gmt: new Date(at).toISOString().slice(0, 19) });
  t.equal(future.status, 201);
  const futurePost = await future.json() as { id: number; status: string };
  t.equal(futurePost.status, 'future', 'a post is scheduled');
  scheduled.id = futurePost.id;
});

t.test('comments can be posted', async (t) => {
  const visitor = new CookieClient(server.url);
  const posted = await visitor.postForm('/wp-comments-post.php', {
    comment: 'A comment from a visitor', author: 'Visitor', email: 'visitor@example.com', url: '', comment_post_ID: '1', comment_parent: '0',
  });
  t.equal(posted.status, 302, 'comment accepted (redirect back to the post)');
  const comments = await (await rest(admin, 'GET', '/wp/v2/comments?post=1&status=all&context=edit')).json() as Array<{ content: { raw: string } }>;
  t.ok(comments.some((c) => c.content.raw === 'A comment from a visitor'), 'stored');
});

const png = tinyPng();
let mediaUrl = '';

t.test('media upload through REST is stored and served back byte-identical with its type', async (t) => {
  const uploaded = await admin.request('/wp-json/wp/v2/media', {
    method: 'POST',
    headers: { 'x-wp-nonce': restNonces.get(admin)!, 'content-type': 'image/png', 'content-disposition': 'attachment; filename="pixel-test.png"' },
    body: new Uint8Array(png),
  });
  t.equal(uploaded.status, 201);
  mediaUrl = ((await uploaded.json()) as { source_url: string }).source_url;
  t.match(mediaUrl, /\/wp-content\/uploads\/.*pixel-test.*\.png$/);
  const served = await fetch(new URL(new URL(mediaUrl).pathname, server.url));
  t.equal(served.status, 200);
  t.equal(served.headers.get('content-type'), 'image/png');
  const bytes = Buffer.from(await served.arrayBuffer());
  t.equal(createHash('sha256').update(bytes).digest('hex'), createHash('sha256').update(png).digest('hex'), 'byte-identical');
});

t.test('secrets are never served', async (t) => {
  for (const path of ['/wp-content/database/.ht.sqlite', '/wp-content/database/', '/.htaccess', '/wp-content/debug.log', '/wp-content/database/index.php']) {
    const response = await fetch(new URL(path, server.url));
    const body = await response.text();
    t.equal(response.status, 403, `${path} → 403`);
    t.notMatch(body, /SQLite format|DB_DIR/, `${path} leaks nothing`);
  }
  const config = await fetch(new URL('/wp-config.php', server.url));
  t.notMatch(await config.text(), /AUTH_KEY|DB_DIR|<\?php/, 'wp-config.php runs as PHP; its source is never shown');
});

t.test('log out ends the session', async (t) => {
  const client = new CookieClient(server.url);
  await login(client);
  const dashboard = await client.get('/wp-admin/');
  const html = await dashboard.text();
  const logoutUrl = /href=['"]([^'"]*wp-login\.php\?action=logout[^'"]*)['"]/.exec(html)?.[1]?.replace(/&amp;|&#038;/g, '&');
  t.ok(logoutUrl, 'dashboard has a log-out link');
  const out = await client.get(new URL(logoutUrl!).pathname + new URL(logoutUrl!).search);
  t.equal(out.status, 302);
  t.notOk(client.has('wordpress_logged_in_'), 'logged-in cookie cleared');
  const after = await client.get('/wp-admin/');
  t.equal(after.status, 302, 'admin now redirects to the login');
  t.match(after.headers.get('location') ?? '', /wp-login\.php/);
});

/**
 * The minute WordPress makes a scheduled post wait, passed at once: the post's date and its
 * publish_future_post event are moved into the past, as if the minute had gone by. Publishing is
 * then up to the server's cron (WordPress re-checks the post's date before publishing it).
 */
const TIME_PASSES = `<?php
require __DIR__ . '/wp-load.php';
$id = (int) $_GET['post'];
$past = time() - 5;
$gmt = gmdate('Y-m-d H:i:s', $past);
$GLOBALS['wpdb']->update($GLOBALS['wpdb']->posts, ['post_date_gmt' => $gmt, 'post_date' => get_date_from_gmt($gmt)], ['ID' => $id]);
clean_post_cache($id);
wp_clear_scheduled_hook('publish_future_post', [$id]);
echo wp_schedule_single_event($past, 'publish_future_post', [$id]) ? 'moved' : 'not moved';
`;

t.test('WP-Cron runs from the server: a scheduled post gets published', async (t) => {
  // Scheduled in the REST step (WordPress publishes at once anything due within a minute).
  const script = join(server.config.dir, 'test-time-passes.php');
  writeFileSync(script, TIME_PASSES);
  t.teardown(() => rmSync(script, { force: true }));
  const before = (await (await rest(admin, 'GET', `/wp/v2/posts/${scheduled.id}?context=edit`)).json()) as { status: string };
  t.equal(before.status, 'future', 'still scheduled: nothing published it early');
  t.equal(await (await fetch(`${server.url}/test-time-passes.php?post=${scheduled.id}`)).text(), 'moved', 'its minute has passed');
  let status = 'future';
  // Beyond WordPress's own cron lock (WP_CRON_LOCK_TIMEOUT, 60 s): a run whose unlock did not reach
  // the database (seen under CI load: every later run, ~1 s apart, returned at once for 30 s) holds
  // it that long, and cron is right to wait.
  await until('wp-cron to publish the post', async () => {
    status = ((await (await rest(admin, 'GET', `/wp/v2/posts/${scheduled.id}?context=edit`)).json()) as { status: string }).status;
    return status === 'publish';
  }, 90_000).catch(() => undefined);
  // On failure, what the server's cron runs and PHP said meanwhile (a run that died keeps
  // WordPress's own 60 s cron lock, and the runs after it skip).
  const cronLines = server.logs.filter((line) => /wp-cron/.test(String(line.msg)) || line.php !== undefined).slice(-20);
  t.equal(status, 'publish', 'published by wp-cron without any visitor triggering it', status === 'publish' ? {} : { diagnostic: true, cronLines });
});

t.test('after a restart, posts, uploads, users and settings are all still there', async (t) => {
  // Same port: WordPress recorded its address (with the port) at install and redirects to it.
  const { port } = server;
  await server.close();
  server = await startTestWordPress(dataDir, { cronInterval: 0, port });
  const client = new CookieClient(server.url);
  const response = await login(client);
  t.equal(response.status, 302, 'the same user logs in');
  const post = await client.get('/hello-world/');
  t.equal(post.status, 200, 'permalink setting kept');
  const posts = await (await rest(client, 'GET', '/wp/v2/posts?per_page=100&search=parallel')).json() as unknown[];
  t.equal(posts.length, 32, 'posts kept');
  const served = await fetch(new URL(new URL(mediaUrl).pathname, server.url));
  t.equal(Buffer.compare(Buffer.from(await served.arrayBuffer()), png), 0, 'upload kept');
  const title = await (await client.get('/')).text();
  t.match(title, /PWS Test Site/, 'site title kept');
});
