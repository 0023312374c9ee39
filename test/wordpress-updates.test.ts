/**
 * With WordPress.org closed (--wordpress-org false) WordPress cannot check for updates: the Updates
 * screen and the dashboard must say so, never "You have the latest version of WordPress" (which
 * WordPress itself says after any failed check). The same holds offline with it open (CI).
 */
import t from 'tap';
import { tempDir } from './helpers/server.js';
import { logIn, startTestWordPress } from './helpers/wordpress.js';

const ADMIN = { siteTitle: 'Updates Test', adminUser: 'admin', adminPassword: 'correct horse battery staple', adminEmail: 'admin@example.com' };

t.test('--wordpress-org false: no WordPress.org in the allowlist, and the Updates screen says it could not check', async (t) => {
  const server = await startTestWordPress(tempDir(t, 'pws-updates-'), { ...ADMIN, wordpressOrg: false });
  t.teardown(() => server.close());
  const admin = await logIn(`http://127.0.0.1:${server.port}`, ADMIN.adminUser, ADMIN.adminPassword);

  const updates = await (await admin.get('/wp-admin/update-core.php?force-check=1')).text();
  t.match(updates, 'WordPress could not check for updates.', 'the heading says the check failed');
  t.notMatch(updates, 'You have the latest version of WordPress', 'and never that this version is the latest');
  t.notMatch(updates, 'automatically kept up to date with each new version', 'nor that it is kept up to date');
  t.match(updates, /could not check for updates, so it cannot tell whether this version \([\d.]+\) is current: User has blocked requests through HTTP/, 'the notice names the reason');
  const dashboard = await (await admin.get('/wp-admin/index.php')).text();
  t.match(dashboard, 'WordPress could not check for updates', 'the dashboard says so too');
  const others = await (await admin.get('/wp-admin/options-general.php')).text();
  t.notMatch(others, 'could not check for updates', 'other screens stay quiet');
});

t.test('WordPress.org open (the default) but unreachable, as offline: the same, with the network error', async (t) => {
  const server = await startTestWordPress(tempDir(t, 'pws-updates-'), { ...ADMIN, wordpressOrg: true });
  t.teardown(() => server.close());
  const admin = await logIn(`http://127.0.0.1:${server.port}`, ADMIN.adminUser, ADMIN.adminPassword);
  const updates = await (await admin.get('/wp-admin/update-core.php?force-check=1')).text();
  t.notMatch(updates, 'You have the latest version of WordPress', 'never "the latest version" (6.5 is not, online or off)');
  if (/could not check for updates/.test(updates)) {
    t.notMatch(updates, 'User has blocked requests through HTTP', 'WordPress did try: the allowlist let it (it failed on the network)');
  } else {
    t.match(updates, 'An updated version of WordPress is available', 'online: the real answer');
  }
});
