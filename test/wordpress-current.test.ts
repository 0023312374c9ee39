/**
 * A new site gets the current WordPress (--wordpress-version latest, the default) from a mirror, with
 * the latest SQLite plugin, and WordPress runs from it; offline it gets the bundled build, and its
 * administrators are told which version that is.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { tempDir } from './helpers/server.js';
import { logIn, phpErrors, startTestWordPress } from './helpers/wordpress.js';
import { startMirror } from './helpers/mirror.js';
import { releaseZip, sqlitePluginZip } from './helpers/wordpress-release.js';
import { freePort } from './helpers/ports.js';

const ADMIN = { siteTitle: 'Current WordPress', adminUser: 'admin', adminPassword: 'correct horse battery staple', adminEmail: 'admin@example.com' };
const version = (dir: string) => /\$wp_version = '([^']+)'/.exec(readFileSync(join(dir, 'wp-includes', 'version.php'), 'utf8'))?.[1];

t.test('latest from the mirror: the site runs the fetched WordPress with the fetched plugin', async (t) => {
  const data = tempDir(t, 'pws-current-');
  const release = await releaseZip(data, '6.8.99');
  const mirror = await startMirror({
    '/latest.zip': release.zip,
    '/latest.zip.sha1': release.sha1,
    '/plugin/sqlite-database-integration.zip': sqlitePluginZip('9.9.9-test'),
  });
  t.teardown(() => mirror.close());
  const server = await startTestWordPress(data, { ...ADMIN, wordpressVersion: 'latest', wordpressMirror: mirror.url });
  t.teardown(() => server.close());

  t.equal(version(server.config.dir), '6.8.99', 'assembled from the fetched release');
  t.match(readFileSync(join(server.config.dir, 'wp-content', 'plugins', 'sqlite-database-integration', 'load.php'), 'utf8'), /Version:\s*9\.9\.9-test/, 'with the fetched SQLite plugin');
  const home = await fetch(`http://127.0.0.1:${server.port}/`);
  t.equal(home.status, 200, 'the site serves');
  t.match(await home.text(), /content="WordPress 6\.8\.99"/, 'as WordPress 6.8.99');
  t.match(server.logs.find((l) => /WordPress 6\.8\.99 assembled/.test(String(l.msg))), { version: '6.8.99' });
  t.same(phpErrors(server.logs).filter((m) => !/WordPress\.org/.test(m)), [], 'no PHP errors');
});

t.test('offline: the bundled build, a warning in the log, and a notice naming the version for administrators', async (t) => {
  const data = tempDir(t, 'pws-current-');
  const unreachable = `http://127.0.0.1:${await freePort()}`;
  const server = await startTestWordPress(data, { ...ADMIN, wordpressVersion: 'latest', wordpressMirror: unreachable });
  t.teardown(() => server.close());
  const bundled = version(server.config.dir);
  t.match(bundled, /^6\.5\./, 'assembled from the bundled build');
  t.match(server.logs.find((l) => l.msg === 'could not fetch the latest WordPress; assembling the bundled build'), { reason: /ECONNREFUSED/ }, 'the log says why');

  const admin = await logIn(`http://127.0.0.1:${server.port}`, ADMIN.adminUser, ADMIN.adminPassword);
  const dashboard = await (await admin.get('/wp-admin/index.php')).text();
  t.match(dashboard, `This site runs WordPress ${bundled}, the version bundled with php-wasm-server`, 'the dashboard names the version');
  t.match(dashboard, /could not be fetched when the site was created \([^)]*ECONNREFUSED/, 'and why');
  const anonymous = await (await fetch(`http://127.0.0.1:${server.port}/`)).text();
  t.notMatch(anonymous, 'the version bundled with php-wasm-server', 'visitors see nothing of it');
});
