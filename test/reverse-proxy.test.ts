/**
 * Behind a real reverse proxy: Debian's nginx terminates TLS (a self-signed certificate made here)
 * and passes the headers the README documents; the server trusts exactly that proxy. Clients
 * connect from 127.0.0.2, so the client's address is told apart from the proxy's (127.0.0.1).
 * PHP must see HTTPS=on, the client, and the public host and port; WordPress, with --site-url set
 * to the public https address, installs, logs in, shows admin screens and publishes through the
 * proxy with no redirect loop and no http:// asset on its pages.
 */
import { request } from 'node:http';
import t from 'tap';
import { CookieClient } from './helpers/browser-like-client.js';
import { httpsFetcher } from './helpers/https-fetch.js';
import { startTlsProxy, type TlsProxy } from './helpers/nginx.js';
import { freePort } from './helpers/ports.js';
import { phpErrors, startTestWordPress, type TestWordPress } from './helpers/wordpress.js';
import { startTestServer, tempDir, type TestServer } from './helpers/server.js';

const CLIENT = '127.0.0.2';
const PROXY = '127.0.0.1';

t.test('PHP behind nginx with TLS sees HTTPS, the client address, and the public host and port', async (t) => {
  const server: TestServer = await startTestServer({ workers: 1, trustProxy: [PROXY] });
  t.teardown(() => server.close());
  const proxy = await startTlsProxy(server.port);
  t.teardown(() => proxy.close());
  const fetchTls = httpsFetcher(proxy.ca, CLIENT);

  const response = await fetchTls(`${proxy.url}/server.php?x=1`, { headers: { 'x-forwarded-for': '203.0.113.66', 'x-forwarded-proto': 'http' } });
  t.equal(response.status, 200);
  const { server: vars } = await response.json() as { server: Record<string, string> };
  t.equal(vars.HTTPS, 'on', 'HTTPS=on for an https client');
  t.equal(vars.REQUEST_SCHEME, 'https');
  t.equal(vars.REMOTE_ADDR, CLIENT, "the client's address, not the proxy's nor the one the client claimed");
  t.equal(vars.SERVER_NAME, 'localhost', 'the public host');
  t.equal(vars.SERVER_PORT, String(proxy.port), 'the public port');
  t.equal(vars.HTTP_HOST, `localhost:${proxy.port}`, 'the public host with the public port (nginx $host drops it)');
  t.equal(vars.REQUEST_URI, '/server.php?x=1');

  // The same server reached directly by a client it does not trust as a proxy: X-Forwarded-* change nothing.
  const direct = await new Promise<string>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path: '/server.php', localAddress: CLIENT, headers: { 'x-forwarded-for': '203.0.113.66', 'x-forwarded-proto': 'https' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => { text += chunk; }).on('end', () => resolve(text));
    });
    req.on('error', reject).end();
  });
  const { server: plain } = JSON.parse(direct) as { server: Record<string, string> };
  t.equal(plain.HTTPS, undefined, 'no HTTPS over plain http');
  t.equal(plain.REMOTE_ADDR, CLIENT, 'the direct peer, not the address it claimed');
});

/** Every URL a page loads (scripts, styles, images, icons) and links to. */
function pageUrls(html: string): string[] {
  return [...html.matchAll(/\b(?:src|href|srcset)=["']([^"']+)["']/g)].map((m) => m[1].replace(/&#0?38;|&amp;/g, '&'));
}

t.test('WordPress through nginx over TLS: install, log in, admin screens, publish; https everywhere, no redirect loop', async (t) => {
  const publicPort = await freePort();
  const site = `https://localhost:${publicPort}`;
  const wordpress: TestWordPress = await startTestWordPress(tempDir(t, 'pws-proxy-wp-'), { trustProxy: [PROXY], siteUrl: site });
  t.teardown(() => wordpress.close());
  const proxy: TlsProxy = await startTlsProxy(wordpress.port, publicPort);
  t.teardown(() => proxy.close());
  const fetchTls = httpsFetcher(proxy.ca, CLIENT);
  const visitor = new CookieClient(site, fetchTls);

  // Install through the proxy, as a person would. (Offline, the installer's language list logs a warning.)
  const installer = await visitor.follow('/wp-admin/install.php');
  t.equal(installer.status, 200, 'the installer loads through the proxy');
  const install = await visitor.postForm('/wp-admin/install.php?step=2', {
    weblog_title: 'Proxied Site', user_name: 'admin', admin_password: 'correct horse battery staple', admin_password2: 'correct horse battery staple',
    pw_weak: 'on', admin_email: 'admin@example.com', blog_public: '1', language: '',
  });
  t.equal(install.status, 200);
  t.match(await install.text(), /Success!/, 'installed');

  const errorsBefore = phpErrors(wordpress.logs).length;
  const admin = new CookieClient(site, fetchTls);
  await admin.get('/wp-login.php');
  const login = await admin.postForm('/wp-login.php', { log: 'admin', pwd: 'correct horse battery staple', 'wp-submit': 'Log In', redirect_to: `${site}/wp-admin/`, testcookie: '1' });
  t.equal(login.status, 302, 'login redirects');
  t.equal(login.headers.get('location'), `${site}/wp-admin/`, 'to the https admin');
  t.ok(admin.has('wordpress_sec_'), 'the secure auth cookie of an https login is set');

  for (const [path, marker] of [['/wp-admin/', /Dashboard/], ['/wp-admin/edit.php', /Posts/], ['/wp-admin/options-general.php', /General Settings/]] as const) {
    const screen = await admin.get(path);
    t.equal(screen.status, 200, `${path}: no redirect (a loop would start with one)`);
    const html = await screen.text();
    t.match(html, marker, `${path} renders`);
    const insecure = pageUrls(html).filter((url) => url.startsWith('http://') || url.startsWith('//'));
    t.same(insecure, [], `${path}: every asset and link is https or relative`);
  }

  const nonce = (await (await admin.get('/wp-admin/admin-ajax.php?action=rest-nonce')).text()).trim();
  const created = await admin.request('/?rest_route=/wp/v2/posts', {
    method: 'POST',
    headers: { 'x-wp-nonce': nonce, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'Published through TLS', content: 'Hello from behind nginx.', status: 'publish' }),
  });
  t.equal(created.status, 201, 'published through the proxy');
  const post = await created.json() as { link: string };
  t.ok(post.link.startsWith(`${site}/`), `the post's link is on the public https address (${post.link})`);

  // WordPress calling its own https address (through the proxy, as it believes): Site Health's checks.
  const loopback = await (await admin.get('/?rest_route=/wp-site-health/v1/tests/loopback-requests', { 'x-wp-nonce': nonce })).json() as { status: string; label: string };
  t.equal(loopback.status, 'good', `the site reached itself at its https address (${loopback.label})`);
  const statusPage = await (await admin.get('/wp-admin/site-health.php')).text();
  const direct = JSON.parse(/var SiteHealth = (\{.*?\});\n/s.exec(statusPage)?.[1] ?? '{}') as { site_status?: { direct?: Array<{ test: string; status: string }> } };
  t.equal(direct.site_status?.direct?.find((r) => r.test === 'rest_availability')?.status, 'good', 'the REST API check reached the site too');

  const reader = new CookieClient(site, fetchTls);
  const chain: string[] = [];
  let page = await reader.get(new URL(post.link).pathname + new URL(post.link).search);
  for (let i = 0; i < 5 && page.status >= 300 && page.status < 400; i++) {
    chain.push(`${page.status} ${page.headers.get('location')}`);
    page = await reader.get(page.headers.get('location')!);
  }
  t.equal(page.status, 200, `the post loads (redirects: ${chain.join(' → ') || 'none'})`);
  const html = await page.text();
  t.match(html, /Published through TLS/);
  t.same(pageUrls(html).filter((url) => url.startsWith('http://')), [], 'no http:// URL on the public page');
  // Offline (as here and in CI), WordPress warns that WordPress.org cannot be reached: that one is expected.
  t.same(phpErrors(wordpress.logs).slice(errorsBefore).filter((m) => !/WordPress\.org/.test(m)), [], 'no PHP errors');
});
