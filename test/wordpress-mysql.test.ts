/**
 * WordPress on a real MariaDB (Debian's mariadb-server, started by the test): installed and served
 * through php.wasm's network, only the database's address open to PHP, settings that reach an
 * existing site, and a 503 (not a hang) when the database is unreachable.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { resolveDatabase, type MysqlDatabase } from '../server/wordpress/database.js';
import { submitInstaller } from '../server/wordpress/install.js';
import { mariadbAvailable, startMariaDb } from './helpers/mariadb.js';
import { freePort } from './helpers/ports.js';
import { tempDir } from './helpers/server.js';
import { startTestWordPress } from './helpers/wordpress.js';
import { reportSetupFailures } from './helpers/setup-failures.js';

reportSetupFailures();

if (!mariadbAvailable()) throw new Error('mariadb-server is required (apt-get install mariadb-server; .ci/run installs it)');

const maria = await startMariaDb();
t.teardown(() => maria.close());
maria.createDatabase('site', 'wp', 'right-password');

const database = (port = maria.port, password = 'right-password'): MysqlDatabase =>
  resolveDatabase(`mysql://wp@127.0.0.1:${port}/site`, { WORDPRESS_DB_PASSWORD: password }) as MysqlDatabase;

const dataDir = tempDir(t, 'pws-mysql-');
const dir = join(dataDir, 'wordpress');

t.test('a new site on MariaDB: installed and served, no SQLite, no secret on disk', async (t) => {
  const wp = await startTestWordPress(dataDir, { database: database(), cronInterval: 0 });
  t.teardown(() => wp.close());
  t.notOk(existsSync(join(dir, 'wp-content', 'db.php')), 'no SQLite drop-in');
  t.notOk(existsSync(join(dir, 'wp-content', 'plugins', 'sqlite-database-integration')), 'no SQLite plugin');
  t.ok(existsSync(join(dir, 'wp-content', 'db-error.php')), 'the 503 page for a lost database');
  t.notMatch(readFileSync(join(dir, 'wp-config.php'), 'utf8'), /right-password/, 'the password is not written into wp-config.php');

  const outcome = await submitInstaller(wp.url, { title: 'On MariaDB', user: 'admin', password: 'pw-123456789', email: 'admin@example.com' });
  t.same(outcome, { result: 'installed' });
  t.same(maria.query("SELECT option_value FROM wp_options WHERE option_name = 'blogname'", 'site'), [['On MariaDB']], 'the site lives in MariaDB');
  const keys = maria.query("SELECT COUNT(*) FROM wp_options WHERE option_name IN ('auth_key','auth_salt','secure_auth_key','secure_auth_salt','logged_in_key','logged_in_salt','nonce_key','nonce_salt')", 'site');
  t.same(keys, [['8']], 'the keys were made at install, in the database every replica shares');
  const home = await fetch(`${wp.url}/`);
  t.equal(home.status, 200);
  t.match(await home.text(), /On MariaDB/);
});

t.test('PHP may reach the database address and nothing else on that host', async (t) => {
  const other: Server = createServer((socket) => socket.end('HELLO\n'));
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  t.teardown(() => other.close());
  const otherPort = (other.address() as { port: number }).port;
  const wp = await startTestWordPress(dataDir, { database: database(), cronInterval: 0 });
  t.teardown(() => wp.close());
  writeFileSync(join(dir, 'probe-network.php'), `<?php
$db = @fsockopen('127.0.0.1', ${maria.port}, $errno, $errstr, 3);
echo 'database:', $db && fread($db, 4) !== '' ? 'open' : 'closed', "\\n";
$other = @fsockopen('127.0.0.1', ${otherPort}, $errno, $errstr, 3);
if ($other) stream_set_timeout($other, 3);
echo 'other:', $other && (string) fread($other, 5) === 'HELLO' ? 'open' : 'closed', "\\n";
`);
  t.teardown(() => { try { writeFileSync(join(dir, 'probe-network.php'), ''); } catch { /* gone with the folder */ } });
  const text = await (await fetch(`${wp.url}/probe-network.php`)).text();
  t.match(text, /database:open/, 'the MariaDB port answers (its greeting)');
  t.match(text, /other:closed/, 'another port on the same host stays closed');
});

t.test("an existing site takes the database settings of each start; a wrong one is a 503 page and a log line", async (t) => {
  const wrong = await startTestWordPress(dataDir, { database: database(maria.port, 'wrong-password'), cronInterval: 0, warmup: [] });
  const response = await fetch(`${wrong.url}/`);
  t.equal(response.status, 503);
  t.equal(response.headers.get('retry-after'), '30');
  t.match(await response.text(), /cannot reach its database/);
  t.ok(wrong.logs.some((entry) => typeof entry.php === 'string' && /WordPress cannot reach its database at 127\.0\.0\.1:\d+ as wp/.test(entry.php)), 'one log line says which database and user');
  await wrong.close();

  const right = await startTestWordPress(dataDir, { database: database(), cronInterval: 0, warmup: [] });
  t.teardown(() => right.close());
  // The REST index (not the home page: it redirects to the address recorded at install, an earlier port).
  const index = await fetch(`${right.url}/?rest_route=/`);
  t.equal(index.status, 200, 'the same site with the right password: served');
  t.match(await index.json(), { name: 'On MariaDB' });
});

t.test('an unreachable database: 503 at once for a closed port, and within the read bound for one that never answers', async (t) => {
  const closedPort = await freePort();
  const closed = await startTestWordPress(dataDir, { database: database(closedPort), cronInterval: 0, warmup: [] });
  t.teardown(() => closed.close());
  t.equal((await fetch(`${closed.url}/`)).status, 503);

  const silent: Server = createServer(() => { /* accepts, never answers */ });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => silent.close());
  const silentPort = (silent.address() as { port: number }).port;
  // Started with its warm-up: a database that never answers must not keep the server from starting.
  const hung = await startTestWordPress(dataDir, { database: database(silentPort), cronInterval: 0, requestTimeout: 8 });
  t.teardown(() => hung.close());
  const response = await fetch(`${hung.url}/`, { signal: AbortSignal.timeout(60_000) });
  t.equal(response.status, 503, 'the database error page, not the request timeout (504)');
});

t.test('a SQLite site is not silently pointed at MySQL', async (t) => {
  const sqliteData = tempDir(t, 'pws-sqlite-');
  mkdirSync(sqliteData, { recursive: true });
  const sqlite = await startTestWordPress(sqliteData, { cronInterval: 0, warmup: [] });
  await sqlite.close();
  await t.rejects(startTestWordPress(sqliteData, { database: database(), cronInterval: 0, warmup: [] }), /is a SQLite site/);
});
