import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { assembleWordPress, isWordPressTree } from '../server/wordpress/assemble.js';

const require = createRequire(import.meta.url);
const pkgDir = path.dirname(require.resolve('@wp-playground/wordpress-builds/package.json'));
const assetList = fs
  .readFileSync(path.join(pkgDir, 'public', 'wp-6.5', 'wordpress-remote-asset-paths'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '');
// The list also names the build's pre-installed database (admin/password,
// siteurl 127.0.0.1:9400), which assembleWordPress deliberately leaves out.
const PREINSTALLED_DB = 'wp-content/database/.ht.sqlite';

function collectingLog() {
  const messages: string[] = [];
  const log = {
    info(objOrMsg: object | string, msg?: string) {
      messages.push(typeof objOrMsg === 'string' ? objOrMsg : (msg ?? ''));
    },
  };
  return { log, messages };
}

function salts(config: string): string[] {
  return [...config.matchAll(/define\( '(?:AUTH|SECURE_AUTH|LOGGED_IN|NONCE)_(?:KEY|SALT)',\s*'([^']*)' \);/g)].map(
    (m) => m[1],
  );
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wp-assemble-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

t.test('assembles WordPress 6.5 + SQLite into an empty path', async (t) => {
  const dir = path.join(tmp, 'site-a', 'wordpress');
  const { log, messages } = collectingLog();
  const started = Date.now();
  const result = await assembleWordPress(dir, { log });
  t.comment(`assembled in ${Date.now() - started} ms`);
  t.same(result, { assembled: true });
  t.ok(isWordPressTree(dir), 'isWordPressTree');
  t.notOk(fs.existsSync(path.join(dir, 'wordpress')), 'files are directly in dir');
  t.ok(messages.some((m) => /unzipping WordPress/.test(m)), 'logs unzip');
  t.ok(messages.some((m) => /restoring \d+ static assets/.test(m)), 'logs assets');
  t.ok(messages.some((m) => /WordPress 6\.5\.\d+ assembled in \d+ ms/.test(m)), 'logs timing');

  for (const rel of ['wp-includes/css/dashicons.min.css', 'wp-includes/js/jquery/jquery.min.js', 'wp-admin/css/common.min.css']) {
    const st = fs.statSync(path.join(dir, rel), { throwIfNoEntry: false });
    t.ok(st && st.isFile() && st.size > 0, `${rel} exists and is non-empty`);
  }
  t.ok(assetList.length > 1000, `asset list has ${assetList.length} entries`);
  t.ok(assetList.includes(PREINSTALLED_DB), 'the list names the pre-installed database');
  const missing = assetList.filter((rel) => rel !== PREINSTALLED_DB && !fs.existsSync(path.join(dir, rel)));
  t.same(missing, [], 'every remote asset path exists (but the pre-installed database)');

  const plugin = path.join(dir, 'wp-content/plugins/sqlite-database-integration');
  t.ok(fs.existsSync(path.join(plugin, 'load.php')), 'plugin load.php');
  t.ok(fs.existsSync(path.join(plugin, 'wp-includes/sqlite/db.php')), 'plugin implementation');

  const dbPhp = fs.readFileSync(path.join(dir, 'wp-content/db.php'), 'utf8');
  t.notMatch(dbPhp, /\{[A-Z_]+\}/, 'db.php has no unfilled placeholder');
  t.match(dbPhp, "'/docroot/wp-content/plugins/sqlite-database-integration'", 'db.php points at the plugin by guest path');
  t.match(dbPhp, "'sqlite-database-integration/load.php'", 'db.php names the plugin main file');
  t.notMatch(dbPhp, tmp, 'db.php holds no host path');

  t.equal(fs.readFileSync(path.join(dir, 'wp-content/database/.htaccess'), 'utf8').trim(), 'Deny from all');
  t.ok(fs.existsSync(path.join(dir, 'wp-content/database/index.php')), 'database/index.php');
  t.notOk(fs.existsSync(path.join(dir, PREINSTALLED_DB)), 'no pre-installed database');
  t.ok(fs.statSync(path.join(dir, 'wp-content/uploads')).isDirectory(), 'uploads/');

  const config = fs.readFileSync(path.join(dir, 'wp-config.php'), 'utf8');
  t.match(config, "define( 'DB_DIR', '/docroot/wp-content/database/' );");
  t.match(config, "define( 'DB_FILE', '.ht.sqlite' );");
  t.match(config, "$table_prefix = 'wp_';");
  t.match(config, "define( 'WP_DEBUG', false );");
  t.match(config, "define( 'FS_METHOD', 'direct' );");
  t.notMatch(config, 'WP_HTTP_BLOCK_EXTERNAL\', true', 'outgoing HTTP is left to the server (see outbound-http.ts)');
  t.match(config, "require_once ABSPATH . 'wp-settings.php';");
  t.notMatch(config, tmp, 'wp-config.php holds no host path');
  const s = salts(config);
  t.equal(s.length, 8, 'eight keys/salts');
  t.ok(s.every((v) => v.length === 64), 'each 64 chars');
  t.equal(new Set(s).size, 8, 'all different');

  t.same(
    fs.readdirSync(path.dirname(dir)).filter((n) => n.includes('.partial-')),
    [],
    'no .partial- folder left behind',
  );

  // A second call must leave an existing tree alone.
  const marker = path.join(dir, 'wp-content', 'marker.txt');
  fs.writeFileSync(marker, 'user data');
  const configBefore = config;
  const again = await assembleWordPress(dir, { log });
  t.same(again, { assembled: false });
  t.equal(fs.readFileSync(marker, 'utf8'), 'user data', 'marker untouched');
  t.equal(fs.readFileSync(path.join(dir, 'wp-config.php'), 'utf8'), configBefore, 'wp-config.php untouched');

  // A second assembly gets its own salts; an existing empty folder is fine.
  const dirB = path.join(tmp, 'site-b');
  fs.mkdirSync(dirB);
  t.same(await assembleWordPress(dirB, { log }), { assembled: true });
  const sB = salts(fs.readFileSync(path.join(dirB, 'wp-config.php'), 'utf8'));
  t.equal(sB.length, 8);
  t.ok(sB.every((v) => !s.includes(v)), 'second assembly has different salts');
});

t.test('refuses a non-empty folder that is not WordPress, and touches nothing', async (t) => {
  const dir = path.join(tmp, 'not-wp');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'index.html'), 'hello');
  const { log } = collectingLog();
  await t.rejects(assembleWordPress(dir, { log }), /not empty and is not a WordPress tree/);
  t.same(fs.readdirSync(dir), ['index.html']);
  t.same(fs.readdirSync(tmp).filter((n) => n.startsWith('not-wp.partial-')), []);
});

t.test('isWordPressTree', async (t) => {
  const dir = path.join(tmp, 'fake');
  fs.mkdirSync(path.join(dir, 'wp-includes'), { recursive: true });
  t.notOk(isWordPressTree(dir));
  fs.writeFileSync(path.join(dir, 'wp-includes', 'version.php'), '<?php');
  t.notOk(isWordPressTree(dir), 'version.php alone is not enough');
  fs.writeFileSync(path.join(dir, 'wp-settings.php'), '<?php');
  t.ok(isWordPressTree(dir));
  t.notOk(isWordPressTree(path.join(tmp, 'does-not-exist')));
});
