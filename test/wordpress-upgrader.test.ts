/**
 * WordPress's own upgrader, inside the sandbox, against a local stand-in for WordPress.org reached
 * through the allowlist (--connect-to sends the real names to it; PHP checks its certificate for
 * them): a plugin installed from the directory, and a core update applied, database upgrade included
 * (which WordPress runs as a request to itself).
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import AdmZip from 'adm-zip';
import t from 'tap';
import { tempDir } from './helpers/server.js';
import { logIn, phpErrors, startTestWordPress } from './helpers/wordpress.js';
import { startWordPressOrgStandIn } from './helpers/wordpress-org-stand-in.js';
import { freePort } from './helpers/ports.js';

const ADMIN = { siteTitle: 'Upgrader Test', adminUser: 'admin', adminPassword: 'correct horse battery staple', adminEmail: 'admin@example.com' };
const NEW_VERSION = '6.5.99';

/** A core package made from the site's own code, announcing NEW_VERSION and a newer database schema. */
function corePackage(wordpressDir: string, newDbVersion: number): Buffer {
  const zip = new AdmZip();
  zip.addLocalFolder(wordpressDir, 'wordpress', (name) => !name.startsWith('wp-content') && name !== 'wp-config.php' && !name.startsWith('pws-'));
  const versionFile = readFileSync(join(wordpressDir, 'wp-includes', 'version.php'), 'utf8')
    .replace(/\$wp_version = '[^']+';/, `$wp_version = '${NEW_VERSION}';`)
    .replace(/\$wp_db_version = \d+;/, `$wp_db_version = ${newDbVersion};`);
  zip.updateFile('wordpress/wp-includes/version.php', Buffer.from(versionFile));
  return zip.toBuffer();
}

function pluginPackage(slug: string): Buffer {
  const zip = new AdmZip();
  zip.addFile(`${slug}/${slug}.php`, Buffer.from(`<?php\n/*\n * Plugin Name: PWS Hello\n * Version: 1.0.0\n */\n`));
  return zip.toBuffer();
}

t.test('a plugin from the directory and a core update with its database upgrade, through the allowlist', async (t) => {
  const data = tempDir(t, 'pws-upgrader-');
  // Assembled first (the core package is made from it), then served with the stand-in's names mapped.
  // One port for both starts: the site's address (home) is recorded with it at install.
  const port = await freePort();
  const first = await startTestWordPress(data, { ...ADMIN, port });
  const dir = first.config.dir;
  await first.close();
  const oldDbVersion = Number(/\$wp_db_version = (\d+);/.exec(readFileSync(join(dir, 'wp-includes', 'version.php'), 'utf8'))![1]);
  const newDbVersion = oldDbVersion + 1;
  const standIn = await startWordPressOrgStandIn({ version: NEW_VERSION, zip: corePackage(dir, newDbVersion) }, { slug: 'pws-hello', name: 'PWS Hello', version: '1.0.0', zip: pluginPackage('pws-hello') });
  t.teardown(() => standIn.close());

  // Test-only: WordPress verifies TLS against its own CA bundle; this site trusts the stand-in's certificate.
  mkdirSync(join(dir, 'wp-content', 'mu-plugins'), { recursive: true });
  writeFileSync(join(dir, 'wp-content', 'mu-plugins', 'stand-in.pem'), standIn.certificate);
  writeFileSync(join(dir, 'wp-content', 'mu-plugins', 'trust-stand-in.php'), "<?php\nadd_filter('http_request_args', static function ($args) { $args['sslcertificates'] = __DIR__ . '/stand-in.pem'; return $args; });\n");
  writeFileSync(join(dir, 'pws-db-version.php'), "<?php\nrequire __DIR__ . '/wp-load.php';\nheader('Content-Type: application/json');\necho json_encode(['db_version' => (int) get_option('db_version'), 'wp_version' => get_bloginfo('version')]);\n");

  const server = await startTestWordPress(data, { ...ADMIN, port, connectTo: standIn.connectTo, wordpressOrg: true });
  t.teardown(() => server.close());
  const admin = await logIn(`http://127.0.0.1:${server.port}`, ADMIN.adminUser, ADMIN.adminPassword);

  // The plugin directory: search, then the install link WordPress renders (its nonce included).
  const search = await (await admin.get('/wp-admin/plugin-install.php?s=pws-hello&tab=search&type=term')).text();
  const install = /href="([^"]*update\.php\?action=install-plugin(?:&|&amp;|&#038;)plugin=pws-hello[^"]*)"/.exec(search)?.[1]?.replace(/&amp;|&#038;/g, '&');
  t.ok(install, 'the directory search lists the stand-in\'s plugin with an install link');
  const installUrl = new URL(install!, `http://127.0.0.1:${server.port}/wp-admin/`);
  const installed = await (await admin.get(installUrl.pathname + installUrl.search)).text();
  t.match(installed, /Successfully installed the plugin (<[^>]+>)?PWS Hello 1\.0\.0/, 'WordPress downloaded and installed it');
  t.ok(existsSync(join(dir, 'wp-content', 'plugins', 'pws-hello', 'pws-hello.php')), 'its files are in wp-content/plugins');

  // The core update WordPress.org (the stand-in) offers.
  const updates = await (await admin.get('/wp-admin/update-core.php?force-check=1')).text();
  t.match(updates, 'An updated version of WordPress is available', 'the Updates screen offers the new version');
  t.notMatch(updates, 'could not check for updates', 'the check succeeded');
  const nonce = /name="_wpnonce" value="([0-9a-f]+)"/.exec(/<form[^>]*action="update-core\.php\?action=do-core-upgrade"[\s\S]*?<\/form>/.exec(updates)?.[0] ?? '')?.[1];
  t.ok(nonce, 'with its update form');
  const started = performance.now();
  const upgrade = await admin.postForm('/wp-admin/update-core.php?action=do-core-upgrade', { _wpnonce: nonce!, _wp_http_referer: '/wp-admin/update-core.php', version: NEW_VERSION, locale: 'en_US', upgrade: 'Update to version ' + NEW_VERSION });
  const report = await upgrade.text();
  t.equal(upgrade.status, 200, `the update ran (${Math.round((performance.now() - started) / 1000)} s)`);
  t.match(report, /WordPress updated successfully/, 'WordPress reports success');
  t.match(readFileSync(join(dir, 'wp-includes', 'version.php'), 'utf8'), `$wp_version = '${NEW_VERSION}';`, 'the new core is on disk');
  const state = (await (await admin.get('/pws-db-version.php')).json()) as { db_version: number; wp_version: string };
  t.same(state, { db_version: newDbVersion, wp_version: NEW_VERSION }, 'and the database was upgraded to its schema');
  t.ok(standIn.requests.includes(`GET /release/wordpress-${NEW_VERSION}.zip`), 'the package came from the stand-in');
  t.same(phpErrors(server.logs).filter((m) => !/signature|WordPress\.org/i.test(m)), [], 'no PHP errors');
});
