/**
 * Site Health → Info loads completely on a SQLite site: its "Directories and Sizes" section asks
 * WordPress's REST endpoint, which sums `SHOW TABLE STATUS`; the bundled SQLite plugin (2.1.11)
 * rejected that statement without a LIKE clause, so the endpoint answered 500.
 */
import t from 'tap';
import { tempDir } from './helpers/server.js';
import { logIn, phpErrors, restNonce, startTestWordPress } from './helpers/wordpress.js';

const ADMIN = { siteTitle: 'Site Health Info Test', adminUser: 'admin', adminPassword: 'correct horse battery staple', adminEmail: 'admin@example.com' };

t.test('Site Health Info: directory and database sizes, and the Info tab, load without errors', async (t) => {
  const server = await startTestWordPress(tempDir(t, 'pws-shinfo-'), ADMIN);
  t.teardown(() => server.close());
  const admin = await logIn(`http://127.0.0.1:${server.port}`, ADMIN.adminUser, ADMIN.adminPassword);
  const nonce = await restNonce(admin);

  const sizes = await admin.get('/?rest_route=/wp-site-health/v1/directory-sizes', { 'x-wp-nonce': nonce });
  const text = await sizes.text();
  t.equal(sizes.status, 200, `the sizes endpoint answers (${text.slice(0, 200)})`);
  const body = JSON.parse(text) as Record<string, { size?: string; raw?: number }>;
  for (const key of ['wordpress_size', 'uploads_size', 'themes_size', 'plugins_size', 'database_size', 'total_size']) {
    t.ok(body[key] && typeof body[key].size === 'string' && !/not available/i.test(body[key].size ?? ''), `${key} is reported (${body[key]?.size})`);
  }
  t.ok((body.wordpress_size?.raw ?? 0) > 1_000_000, 'WordPress itself is measured (megabytes)');

  const info = await admin.get('/wp-admin/site-health.php?tab=debug');
  const page = await info.text();
  t.equal(info.status, 200, 'the Info tab loads');
  t.match(page, /id="health-check-debug"/, 'with its sections');
  t.match(page, /wp-database/, 'the database section is there');
  t.ok((body.database_size?.raw ?? 0) > 10_000, 'the database has a size (the SQLite file)');
  // Offline (as in CI) WordPress warns that its update check could not reach WordPress.org.
  t.same(phpErrors(server.logs).filter((message) => !/Something may be wrong with\s+WordPress\.org/.test(message)), [], 'no other PHP errors logged');
});
