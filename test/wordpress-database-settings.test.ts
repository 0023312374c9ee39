import t from 'tap';
import { resolveDatabase, splitHostPort } from '../server/wordpress/database.js';
import { connectionConstants, constantsDefinedIn, saltsFromEnv } from '../server/wordpress/database-php.js';
import { renderWpConfig } from '../server/wordpress/wp-config.js';

const noFiles = (file: string): string => { throw new Error(`ENOENT: ${file}`); };

t.test('SQLite unless a database is named', async (t) => {
  t.same(resolveDatabase(undefined, {}), { kind: 'sqlite' });
  t.same(resolveDatabase('sqlite', { WORDPRESS_DB_HOST: 'db' }), { kind: 'sqlite' }, '--db sqlite wins over the environment');
  t.same(resolveDatabase(undefined, { WORDPRESS_DB_HOST: '' }), { kind: 'sqlite' });
});

t.test('--db mysql://USER@HOST:PORT/NAME, the password from the environment only', async (t) => {
  t.same(resolveDatabase('mysql://wp@db.internal:3307/site', { WORDPRESS_DB_PASSWORD: 's3cr3t' }), {
    kind: 'mysql', host: 'db.internal', port: 3307, user: 'wp', password: 's3cr3t', name: 'site', tablePrefix: 'wp_',
  });
  t.same(resolveDatabase('mariadb://wp@10.0.0.5/site', {}), { kind: 'mysql', host: '10.0.0.5', port: 3306, user: 'wp', password: '', name: 'site', tablePrefix: 'wp_' });
  t.match(resolveDatabase('mysql://wp@[::1]:3306/site', {}), { host: '::1', port: 3306 });
  t.match(resolveDatabase('mysql://wp@localhost/site', {}), { host: '127.0.0.1' }, 'localhost would make mysqli look for a Unix socket');
  const error = (() => { try { resolveDatabase('mysql://wp:hunter2@db/site', {}); } catch (e) { return (e as Error).message; } return ''; })();
  t.match(error, /must not hold the password/);
  t.notMatch(error, /hunter2/, 'the refused password is not repeated in the error');
  for (const bad of ['postgres://wp@db/site', 'mysql://db/site', 'mysql://wp@db/', 'mysql://wp@db:99999/site', 'mysql://wp@db/si te', 'mysql://wp@db/site?ssl=1']) {
    t.throws(() => resolveDatabase(bad, {}), /invalid db/, bad);
  }
});

t.test("the official image's variables, each also as _FILE", async (t) => {
  const files: Record<string, string> = { '/run/secrets/pw': 'from-file\n', '/run/secrets/user': 'wpuser' };
  const read = (file: string) => { if (!(file in files)) throw new Error('ENOENT'); return files[file]; };
  t.same(resolveDatabase(undefined, {
    WORDPRESS_DB_HOST: 'mariadb:3310', WORDPRESS_DB_USER_FILE: '/run/secrets/user', WORDPRESS_DB_PASSWORD_FILE: '/run/secrets/pw', WORDPRESS_TABLE_PREFIX: 'site2_',
  }, read), { kind: 'mysql', host: 'mariadb', port: 3310, user: 'wpuser', password: 'from-file', name: 'wordpress', tablePrefix: 'site2_' });
  t.throws(() => resolveDatabase(undefined, { WORDPRESS_DB_HOST: 'db' }, noFiles), /WORDPRESS_DB_USER is required/);
  t.throws(() => resolveDatabase(undefined, { WORDPRESS_DB_HOST: 'db', WORDPRESS_DB_USER: 'u', WORDPRESS_DB_PASSWORD: 'a', WORDPRESS_DB_PASSWORD_FILE: '/x' }, noFiles), /not both/);
  t.throws(() => resolveDatabase(undefined, { WORDPRESS_DB_HOST: 'db', WORDPRESS_DB_USER: 'u', WORDPRESS_DB_PASSWORD_FILE: '/missing' }, noFiles), /readable file/);
  t.throws(() => resolveDatabase(undefined, { WORDPRESS_DB_HOST: 'db', WORDPRESS_DB_USER: 'u', WORDPRESS_TABLE_PREFIX: "wp'; DROP" }, noFiles), /letters, digits and _/);
  t.throws(() => splitHostPort('db:0', 'X', 'test'), /HOST:PORT/);
  t.throws(() => splitHostPort('[nothex]:1', 'X', 'test'), /HOST:PORT/);
});

t.test('the connection reaches PHP as constants; wp-config.php of a MySQL site holds no secret', async (t) => {
  const db = { kind: 'mysql', host: '::1', port: 3307, user: "o'brien", password: "p'w\\", name: 'site', tablePrefix: 'x_' } as const;
  const php = connectionConstants(db);
  t.match(php, "define('DB_HOST', '[::1]:3307');");
  t.match(php, "define('DB_USER', 'o\\'brien');", 'quotes are escaped');
  t.match(php, "define('DB_PASSWORD', 'p\\'w\\\\');");
  t.match(php, "define('PHP_WASM_SERVER_TABLE_PREFIX', 'x_');");

  const mysqlConfig = renderWpConfig({ database: 'mysql' });
  t.notMatch(mysqlConfig, /DB_PASSWORD|DB_HOST|AUTH_KEY'|DB_DIR/, 'no connection, no keys, no SQLite settings');
  t.match(mysqlConfig, "$table_prefix = defined( 'PHP_WASM_SERVER_TABLE_PREFIX' ) ? PHP_WASM_SERVER_TABLE_PREFIX : 'wp_';");
  t.match(mysqlConfig, "require_once ABSPATH . 'wp-settings.php';");
  const sqliteConfig = renderWpConfig();
  t.match(sqliteConfig, /define\( 'DB_DIR'/);
  t.match(sqliteConfig, /define\( 'AUTH_KEY',\s+'[A-Za-z0-9_-]{64}' \);/);
  t.same(constantsDefinedIn(sqliteConfig, ['DB_HOST', 'DB_PASSWORD', 'AUTH_KEY']), ['DB_HOST', 'DB_PASSWORD', 'AUTH_KEY']);
  t.same(constantsDefinedIn(mysqlConfig, ['DB_HOST', 'DB_PASSWORD', 'AUTH_KEY']), []);
});

t.test('keys and salts from WORDPRESS_AUTH_KEY … (or _FILE)', async (t) => {
  t.same(saltsFromEnv({ WORDPRESS_AUTH_KEY: 'a', WORDPRESS_NONCE_SALT: 'b', WORDPRESS_LOGGED_IN_KEY: '' }), { AUTH_KEY: 'a', NONCE_SALT: 'b' });
});
