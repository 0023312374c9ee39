/**
 * The theme file editor saves a PHP file only after WordPress has loaded the site with the change
 * (a loopback request to the admin and the home page, with a scrape key) and found no fatal error.
 * That needs the site to reach itself; it failed with "Unable to communicate back with site to check
 * for fatal errors". With one worker the loopback runs on a self-call worker, whose opcache already
 * holds the file from the first edit's check: it must drop that copy (server/pool/stale-code.ts).
 * opcache.revalidate_freq 60 keeps it from rechecking the file's time by itself during the test (by
 * default it does so after 2 s: the check passed or failed by timing), and file_update_protection 0
 * lets it keep a file written less than 2 s ago, as it does once the file is older.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { tempDir } from './helpers/server.js';
import { logIn, startTestWordPress } from './helpers/wordpress.js';

const ADMIN = { siteTitle: 'File Editor Test', adminUser: 'admin', adminPassword: 'correct horse battery staple', adminEmail: 'admin@example.com' };
const THEME = 'twentytwentyfour';

t.test('the theme file editor checks a PHP edit over loopback: a good edit is saved, a fatal one reverted', async (t) => {
  const server = await startTestWordPress(tempDir(t, 'pws-editor-'), { ...ADMIN, workers: 1, ini: { 'opcache.revalidate_freq': '60', 'opcache.file_update_protection': '0' } });
  t.teardown(() => server.close());
  const admin = await logIn(`http://127.0.0.1:${server.port}`, ADMIN.adminUser, ADMIN.adminPassword);
  const file = join(server.config.dir, 'wp-content', 'themes', THEME, 'functions.php');
  const original = readFileSync(file, 'utf8');

  const editor = await (await admin.get(`/wp-admin/theme-editor.php?file=functions.php&theme=${THEME}`)).text();
  const nonce = /name="nonce" value="([0-9a-f]+)"/.exec(editor)?.[1];
  t.ok(nonce, 'the editor page gives its nonce');
  const save = async (newcontent: string) => {
    const response = await admin.postForm('/wp-admin/admin-ajax.php', { action: 'edit-theme-plugin-file', nonce: nonce!, theme: THEME, file: 'functions.php', newcontent });
    return { status: response.status, body: (await response.json()) as { success: boolean; data: { code?: string; message?: string } } };
  };

  const good = `${original}\n// checked by php-wasm-server's test\n`;
  const saved = await save(good);
  t.same([saved.status, saved.body.success], [200, true], `a good edit is saved (${JSON.stringify(saved.body.data)})`);
  t.equal(readFileSync(file, 'utf8'), good, 'the file holds the edit');

  const fatal = `${good}\nphp_wasm_server_no_such_function();\n`;
  const refused = await save(fatal);
  t.equal(refused.body.success, false, 'a fatal edit is refused');
  t.match(refused.body.data.message ?? '', /Call to undefined function php_wasm_server_no_such_function/, `because the loopback check found the error (${refused.body.data.message})`);
  t.notMatch(refused.body.data.message ?? '', /Unable to communicate back with site/, 'not because the site could not reach itself');
  t.equal(readFileSync(file, 'utf8'), good, 'the file was reverted');
});
