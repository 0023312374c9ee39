/**
 * PHP the server runs before WordPress on a MySQL/MariaDB site (through its prepend file): the
 * connection settings, and the locks that let several replicas share one database safely.
 */
import { phpString, SALT_NAMES } from './wp-config.js';
import { databaseAddress, secretFromEnv, type Env, type MysqlDatabase } from './database.js';

/** The server-only CGI variable that marks the server's own wp-cron.php run (no client can set it). */
export const SERVER_JOB_VARIABLE = 'PHP_WASM_SERVER_JOB';

/** Constants a site's wp-config.php already defines itself (those win; the server leaves them alone). */
export function constantsDefinedIn(wpConfig: string, names: readonly string[]): string[] {
  return names.filter((name) => new RegExp(`define\\s*\\(\\s*['"]${name}['"]`).test(wpConfig));
}

export const CONNECTION_CONSTANTS = ['DB_HOST', 'DB_USER', 'DB_PASSWORD', 'DB_NAME'] as const;

/** define()s for the connection, and the table prefix the generated wp-config.php reads. */
export function connectionConstants(db: MysqlDatabase): string {
  const values: Record<string, string> = {
    DB_HOST: databaseAddress(db),
    DB_USER: db.user,
    DB_PASSWORD: db.password,
    DB_NAME: db.name,
    PHP_WASM_SERVER_TABLE_PREFIX: db.tablePrefix,
  };
  return Object.entries(values).map(([name, value]) => `define(${phpString(name)}, ${phpString(value)});`).join(' ');
}

/** WORDPRESS_AUTH_KEY … WORDPRESS_NONCE_SALT (or _FILE): the keys every replica must share. */
export function saltsFromEnv(env: Env): Record<string, string> {
  const salts: Record<string, string> = {};
  for (const name of SALT_NAMES) {
    const value = secretFromEnv(env, `WORDPRESS_${name}`);
    if (value) salts[name] = value;
  }
  return salts;
}

export function saltConstants(salts: Record<string, string>): string {
  return Object.entries(salts).map(([name, value]) => `define(${phpString(name)}, ${phpString(value)});`).join(' ');
}

/**
 * Without keys in the environment, WordPress keeps them in the database (wp_salt() creates each on
 * first use). Replicas creating them at the same moment would each keep a different one until the
 * last write wins, invalidating the others' cookies and nonces: so the replica that installs the
 * site creates all of them at once, before the site is served.
 */
export const SALTS_AT_INSTALL = "$GLOBALS['wp_filter']['wp_install'][10][] = ['accepted_args' => 0, 'function' => static function () { foreach (['auth', 'secure_auth', 'logged_in', 'nonce'] as $scheme) wp_salt($scheme); }];";

/**
 * Locks across replicas, taken on a connection of their own (held until the request ends, released
 * by the database if the worker dies):
 * - the installer's step 2 runs on one replica at a time, so two replicas installing at once (every
 *   replica of a fresh Compose project does) do not both create the administrator: the second
 *   finds the site installed.
 * - the server's own wp-cron.php runs on one replica at a time and at most once per interval: under
 *   the lock it checks when the last run started (kept in the options table); a replica whose timer
 *   fires sooner than that skips its run.
 */
export function replicaLocks(db: MysqlDatabase, cronIntervalSeconds: number): string {
  const lockPrefix = `php-wasm-server:${db.name}:${db.tablePrefix}`;
  return String.raw`(static function () {
  $job = $_SERVER['${SERVER_JOB_VARIABLE}'] ?? '';
  $installing = ($_SERVER['SCRIPT_NAME'] ?? '') === '/wp-admin/install.php' && ($_GET['step'] ?? '') === '2' && ($_SERVER['REQUEST_METHOD'] ?? '') === 'POST';
  if ($job !== 'cron' && !$installing) return;
  $stop = static function (string $why) use ($job) { if ($job === 'cron') { header('X-PHP-Wasm-Server-Cron: ' . $why); exit; } };
  try {
    $link = mysqli_init();
    $link->options(MYSQLI_OPT_CONNECT_TIMEOUT, 10);
    $link->real_connect(${phpString(db.host)}, DB_USER, DB_PASSWORD, DB_NAME, ${db.port});
    $lock = $job === 'cron' ? ${phpString(`${lockPrefix}:cron`)} : ${phpString(`${lockPrefix}:install`)};
    $got = $link->query('SELECT GET_LOCK(' . "'" . $link->real_escape_string($lock) . "'" . ', ' . ($job === 'cron' ? 0 : 120) . ')')->fetch_row()[0] ?? null;
    if ((string) $got !== '1') { $stop('busy'); return; }
    $GLOBALS['__php_wasm_server_lock'] = $link;
    if ($job !== 'cron') return;
    $options = PHP_WASM_SERVER_TABLE_PREFIX . 'options'; // the prefix is letters, digits and _ only
    $last = $link->query("SELECT option_value FROM $options WHERE option_name = '_php_wasm_server_cron_started'")->fetch_row()[0] ?? 0;
    $now = microtime(true);
    if ($now - (float) $last < ${cronIntervalSeconds} * 0.9) { $stop('ran recently'); return; }
    $link->query("INSERT INTO $options (option_name, option_value, autoload) VALUES ('_php_wasm_server_cron_started', '" . sprintf('%.6F', $now) . "', 'no') ON DUPLICATE KEY UPDATE option_value = VALUES(option_value)");
  } catch (\Throwable $e) {
    // Not installed yet (no options table) or no database: cron has nothing to do; the installer goes on unlocked.
    error_log('php-wasm-server: ' . ($job === 'cron' ? 'cron' : 'install') . ' lock not taken: ' . $e->getMessage());
    $stop('no database');
  }
})();`;
}

/**
 * wp-content/db-error.php: WordPress includes it instead of its own page when it cannot reach the
 * database. Its own page is a 500; this one is a 503 with Retry-After (the outage is temporary, a
 * load balancer can try another replica) and one log line that says what failed.
 */
export const DB_ERROR_DROPIN = `<?php
// Written by php-wasm-server (it restores this file if it is missing): WordPress shows this page
// when it cannot reach its database. 503, not WordPress's 500: the outage is temporary.
error_log('WordPress cannot reach its database at ' . (defined('DB_HOST') ? DB_HOST : '?') . ' as ' . (defined('DB_USER') ? DB_USER : '?') . ': ' . (mysqli_connect_error() ?: 'no connection'));
if (!headers_sent()) {
\thttp_response_code(503);
\theader('Retry-After: 30');
\theader('Cache-Control: no-store');
\theader('Content-Type: text/html; charset=utf-8');
}
?><!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>Temporarily unavailable</title></head>
<body><h1>Temporarily unavailable</h1><p>The site cannot reach its database right now. Please try again in a minute.</p></body></html>
`;
