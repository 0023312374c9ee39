/**
 * --site-url: the address WordPress builds its links from. Without it, an unattended install on a
 * wildcard listener records http://localhost:PORT (never 0.0.0.0); with it, the server's value wins
 * over the database at every start, so changing it moves the site and unsetting it moves it back.
 */
import { request } from 'node:http';
import t from 'tap';
import { defaultSiteUrl, normaliseSiteUrl, siteUrlConstants } from '../server/wordpress/site-url.js';
import { tempDir } from './helpers/server.js';
import { startTestWordPress } from './helpers/wordpress.js';

t.test('default site URL: localhost for wildcard and loopback listeners, else the address itself', async (t) => {
  t.equal(defaultSiteUrl('0.0.0.0', 8087), 'http://localhost:8087');
  t.equal(defaultSiteUrl('::', 8087), 'http://localhost:8087');
  t.equal(defaultSiteUrl('127.0.0.1', 80), 'http://localhost:80');
  t.equal(defaultSiteUrl('::1', 8087), 'http://localhost:8087');
  t.equal(defaultSiteUrl('192.0.2.7', 8087), 'http://192.0.2.7:8087');
  t.equal(defaultSiteUrl('2001:db8::7', 8087), 'http://[2001:db8::7]:8087');
});

t.test('site URL validation: absolute http(s), no query, fragment or credentials; no trailing slash', async (t) => {
  t.equal(normaliseSiteUrl(undefined), undefined);
  t.equal(normaliseSiteUrl(''), undefined);
  t.equal(normaliseSiteUrl('https://Example.COM/'), 'https://example.com');
  t.equal(normaliseSiteUrl('https://example.com/blog/'), 'https://example.com/blog');
  t.equal(normaliseSiteUrl('http://example.com:8443'), 'http://example.com:8443');
  for (const bad of ['example.com', 'ftp://example.com', 'https://example.com/?a=1', 'https://example.com/#x', 'https://u:p@example.com', "https://example.com/it's"]) {
    t.match(errorOf(() => normaliseSiteUrl(bad)), /^invalid siteUrl \(from --site-url\)/, bad);
  }
  t.match(errorOf(() => normaliseSiteUrl('nope', 'PHP_WASM_SERVER_SITE_URL')), /siteUrl.*PHP_WASM_SERVER_SITE_URL/);
  t.equal(siteUrlConstants(undefined), '');
  t.equal(siteUrlConstants('https://example.com'), "define('WP_HOME', 'https://example.com'); define('WP_SITEURL', 'https://example.com');");
});

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  return 'no error';
}

const ADMIN = { siteTitle: 'Site URL Test', adminUser: 'admin', adminPassword: 'correct horse battery staple', adminEmail: 'admin@example.com' };

/** A GET to the server with the Host header a visitor of `site` sends (fetch cannot set Host). */
function get(server: { port: number }, path: string, site: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers: { host: new URL(site).host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** WordPress's REST index names its home and site address as WordPress itself computes them. */
async function addresses(server: { port: number }, site: string): Promise<{ home: string; url: string; page: string }> {
  const { home, url } = JSON.parse((await get(server, '/?rest_route=/', site)).body) as { home: string; url: string };
  const front = await get(server, '/', site);
  if (front.status !== 200) throw new Error(`home page answered ${front.status}`);
  return { home, url, page: front.body };
}

t.test('an installed site follows --site-url at each start, and the database keeps its own address', async (t) => {
  const dataDir = tempDir(t, 'pws-siteurl-');

  // As in a container: listening on every interface, no site URL given.
  let server = await startTestWordPress(dataDir, { ...ADMIN, host: '0.0.0.0' });
  const installedAt = `http://localhost:${server.port}`;
  try {
    t.ok(server.logs.some((l) => l.msg === 'WordPress installed'), 'unattended install ran');
    const fresh = await addresses(server, installedAt);
    t.equal(fresh.home, installedAt, 'home recorded as localhost, not the wildcard address');
    t.equal(fresh.url, installedAt);
    t.notMatch(fresh.page, /0\.0\.0\.0/, 'no link to the wildcard address');
    t.match(fresh.page, `${installedAt}/`);
  } finally {
    await server.close();
  }

  server = await startTestWordPress(dataDir, { siteUrl: 'http://blog.example.test' });
  try {
    const moved = await addresses(server, 'http://blog.example.test');
    t.equal(moved.home, 'http://blog.example.test', 'home from --site-url');
    t.equal(moved.url, 'http://blog.example.test', 'site address from --site-url');
    t.match(moved.page, 'http://blog.example.test/', 'links use the configured address');
    t.notMatch(moved.page, installedAt, 'no link to the old address');
  } finally {
    await server.close();
  }

  server = await startTestWordPress(dataDir, {});
  try {
    t.equal((await addresses(server, installedAt)).home, installedAt, 'without --site-url the database address is back: it was never changed');
  } finally {
    await server.close();
  }
});
