import { dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { GUEST_DOCROOT, projectRoot } from '../paths.js';
import { startServer, type RunningServer } from '../server.js';
import { compilePhpModule } from '../pool/wasm-module.js';
import { wordpressCodeCacheLocation } from '../wasm-code-cache/location.js';
import { assembleWordPress, isWordPressTree } from './assemble.js';
import { chooseSqlitePlugin, chooseWordPress, SEED_CACHE } from './sources.js';
import { fallbackNotice, pendingFallback, recordFallback } from './fallback-notice.js';
import { startCron } from './cron.js';
import { installIfRequested } from './install.js';
import type { WordPressConfig } from './options.js';
export { loadWordPressConfig } from './load-config.js';
import { siteUrlConstants } from './site-url.js';
import { readFileSync } from 'node:fs';
import { databaseAddress } from './database.js';
import { CONNECTION_CONSTANTS, connectionConstants, constantsDefinedIn, replicaLocks, saltConstants, SALTS_AT_INSTALL } from './database-php.js';
import { checkDatabaseOfExistingSite, ensureDbErrorDropin } from './database-site.js';
import { SALT_NAMES } from './wp-config.js';
import { allowlistedHostsAreExternal, migrateWpConfig, outboundHttpConstants, UPDATE_CHECK_NOTICE, wordpressAllowlist } from './outbound-http.js';

/**
 * WordPress tells from got_url_rewrite() whether the server rewrites URLs; only Apache (mod_rewrite),
 * nginx and IIS are recognised. Pre-registering the filter before WordPress loads (it adopts
 * hooks found in $wp_filter) makes "Post name" permalinks work without touching the site's files.
 */
const URL_REWRITE_FILTER = "$GLOBALS['wp_filter']['got_url_rewrite'][10][] = ['function' => '__return_true', 'accepted_args' => 0];";

/**
 * With the server running wp-cron.php on its timer, WordPress must not also spawn it from page loads
 * (two drivers; the spawn takes WordPress's 60 s cron lock, which then makes the timer's run do
 * nothing): DISABLE_WP_CRON, unless wp-config.php already set it. Defined when must-use plugins have
 * loaded, after wp-config.php and before WordPress's own check on wp_loaded, so the two never clash.
 */
const CRON_BY_SERVER_ONLY = "$GLOBALS['wp_filter']['muplugins_loaded'][10][] = ['accepted_args' => 0, 'function' => static function () { if (!defined('DISABLE_WP_CRON')) define('DISABLE_WP_CRON', true); }];";

/**
 * /favicon.ico and /robots.txt reach WordPress's front controller when no such file exists. With
 * pretty permalinks its rewrite rules turn them into the `favicon`/`robots` query vars, and WordPress
 * answers (site icon or W logo; generated robots.txt). With plain permalinks there are no rules: it
 * redirected /favicon.ico to /favicon.ico/ and rendered the home page. Setting the same public query
 * vars for those two paths gives the answer WordPress intends in both cases.
 */
const ROOT_FILES_QUERY_VARS = "if (($_SERVER['SCRIPT_NAME'] ?? '') === '/index.php') { $__pws_path = parse_url($_SERVER['REQUEST_URI'] ?? '', PHP_URL_PATH); if ($__pws_path === '/favicon.ico') { $_GET['favicon'] = '1'; } elseif ($__pws_path === '/robots.txt') { $_GET['robots'] = '1'; } unset($__pws_path); }";

/**
 * Site Health's "Directories and Sizes" sums the sizes `SHOW TABLE STATUS` reports. The bundled
 * SQLite plugin (2.1.11) throws on that statement without a LIKE clause (the sizes endpoint answered
 * 500 and the Info tab never finished), and reports 0 bytes with one (WordPress then says "not
 * available"). On a SQLite site the statement becomes one row holding the database file's size;
 * other databases see it unchanged.
 */
const TABLE_STATUS_FILTER = String.raw`$GLOBALS['wp_filter']['query'][10][] = ['accepted_args' => 1, 'function' => static function ($query) {
  if (!is_string($query) || !preg_match('/^\s*SHOW\s+TABLE\s+STATUS\s*;?\s*$/i', $query)) return $query;
  if (!class_exists('WP_SQLite_DB', false) || !(($GLOBALS['wpdb'] ?? null) instanceof WP_SQLite_DB)) return $query;
  $bytes = defined('FQDB') && is_file(FQDB) ? (int) filesize(FQDB) : 0;
  return "SELECT 'sqlite' AS Name, $bytes AS Data_length, 0 AS Index_length";
}];`;

/**
 * WordPress sends as wordpress@<site host>. For a site at http://localhost:8087 that is
 * wordpress@localhost, which its own is_email() rejects, so every wp_mail() failed before reaching
 * mail(); such a host gets the conventional localhost.localdomain instead. A failed wp_mail() is
 * written to the log: WordPress itself only tells the page that asked (if any).
 */
const MAIL_FILTERS = String.raw`$GLOBALS['wp_filter']['wp_mail_from'][10][] = ['accepted_args' => 1, 'function' => static fn ($from) => is_string($from) && !is_email($from) ? preg_replace('/@[^@]*$/', '@localhost.localdomain', $from) : $from];
$GLOBALS['wp_filter']['wp_mail_failed'][10][] = ['accepted_args' => 1, 'function' => static function ($error) {
  $data = is_wp_error($error) ? $error->get_error_data() : null;
  $to = is_array($data) && isset($data['to']) ? implode(', ', array_map('strval', (array) $data['to'])) : '';
  error_log('WordPress could not send mail' . ($to !== '' ? " to $to" : '') . ': ' . (is_wp_error($error) ? $error->get_error_message() : 'unknown error'));
}];`;

/**
 * Behind a TLS proxy the site's address is https://…, which PHP cannot reach as itself: TLS is the
 * proxy's, and the proxy is not in the allowlist. WordPress's requests to its own https address
 * (Site Health's loopback and REST checks, the file editor's check, the database upgrade after a core
 * update) are sent to the server's self-call listener instead, as the proxy would forward them: the
 * same path, Host and cookies, `X-Forwarded-Proto: https`, and the token that makes the server
 * believe those headers. Redirects are not followed there (they name the public address).
 */
const TLS_SELF_CALLS = String.raw`$GLOBALS['wp_filter']['pre_http_request'][10][] = ['accepted_args' => 3, 'function' => static function ($pre, $args, $url) {
  if ($pre !== false || !empty($args['_php_wasm_server_self_call']) || !defined('PHP_WASM_SERVER_SELF_CALL_URL') || !is_string($url)) return $pre;
  $home = wp_parse_url(home_url());
  $target = wp_parse_url($url);
  if (($home['scheme'] ?? '') !== 'https' || ($target['scheme'] ?? '') !== 'https' || strcasecmp($target['host'] ?? '', $home['host'] ?? '') !== 0 || (int) ($target['port'] ?? 443) !== (int) ($home['port'] ?? 443)) return $pre;
  $args['_php_wasm_server_self_call'] = true;
  $args['headers'] = array_merge(is_array($args['headers'] ?? null) ? $args['headers'] : [], [
    'Host' => $target['host'] . (isset($target['port']) ? ':' . $target['port'] : ''),
    'X-Forwarded-Proto' => 'https',
    'X-Forwarded-Port' => (string) ($target['port'] ?? 443),
    'X-PHP-Wasm-Server-Self-Call' => PHP_WASM_SERVER_SELF_CALL_TOKEN,
  ]);
  $args['redirection'] = 0;
  $local = PHP_WASM_SERVER_SELF_CALL_URL . ($target['path'] ?? '/') . (isset($target['query']) ? '?' . $target['query'] : '');
  return wp_remote_request($local, $args);
}];`;

/**
 * WordPress's installer keeps pretty permalinks only if a request to the site from itself answers
 * 200 within 5 s. That request is the site's first front-end page: on php.wasm it compiles the theme
 * and may wait for a self-call worker to boot, which on a slow or busy machine can take longer, and
 * the new site would silently get /index.php/ permalinks. While installing, requests to the site's
 * own address get the time the installing request itself has (less a margin to answer in).
 */
function installSelfCheckTimeout(requestTimeoutSeconds: number): string {
  const seconds = Math.max(5, requestTimeoutSeconds - 5);
  return String.raw`$GLOBALS['wp_filter']['http_request_args'][10][] = ['accepted_args' => 2, 'function' => static function ($args, $url) {
  if (!defined('WP_INSTALLING') || !WP_INSTALLING || !is_array($args) || !is_string($url)) return $args;
  $home = wp_parse_url(home_url());
  $target = wp_parse_url($url);
  if (strcasecmp($target['host'] ?? '', $home['host'] ?? '') !== 0 || ($target['port'] ?? null) !== ($home['port'] ?? null)) return $args;
  $args['timeout'] = max((float) ($args['timeout'] ?? 5), ${seconds});
  return $args;
}];`;
}

/**
 * DISALLOW_FILE_MODS for --file-mods false, defined once must-use plugins have loaded (after
 * wp-config.php, so a site defining it keeps its own value; WordPress reads it only later, when asked).
 */
const NO_FILE_MODS = "$GLOBALS['wp_filter']['muplugins_loaded'][10][] = ['accepted_args' => 0, 'function' => static function () { if (!defined('DISALLOW_FILE_MODS')) define('DISALLOW_FILE_MODS', true); }];";

/**
 * A database that accepts connections but never answers would hold each request until the request
 * timeout killed its worker (and at start, the warm-up: the server never came up). mysqli's reads
 * give up a little earlier instead, so WordPress shows its database error page (503) and the worker
 * lives on. Queries are bounded by the request timeout anyway; an --ini value wins.
 */
function databaseIni(config: WordPressConfig): Record<string, string> {
  if (config.database.kind !== 'mysql') return config.ini;
  return { 'mysqlnd.net_read_timeout': String(Math.max(5, config.requestTimeout - 5)), ...config.ini };
}

/**
 * The page cache keeps anonymous pages for --page-cache-ttl; WordPress tells the server when content
 * changed (a header the server consumes, never sent on): posts saved, published (also by cron),
 * trashed or deleted; comments approved or changed; menus, theme, plugins, and options changed by a
 * logged-in user. Transients and a visitor's held comment do not empty it.
 */
const PAGE_CACHE_PURGE = String.raw`(static function () {
  $purge = static function () { if (!headers_sent()) header('X-PHP-Wasm-Server-Purge: 1'); };
  $post = static function ($id) use ($purge) { if (!wp_is_post_revision($id) && !wp_is_post_autosave($id)) $purge(); };
  $hook = static function (string $name, callable $fn, int $args = 1) { $GLOBALS['wp_filter'][$name][10][] = ['function' => $fn, 'accepted_args' => $args]; };
  foreach (['save_post', 'deleted_post', 'trashed_post', 'untrashed_post'] as $name) $hook($name, $post);
  $hook('transition_post_status', static function ($new, $old) use ($purge) { if ($new === 'publish' || $old === 'publish') $purge(); }, 2);
  $hook('comment_post', static function ($id, $approved) use ($purge) { if ((string) $approved === '1') $purge(); }, 2);
  foreach (['wp_set_comment_status', 'edit_comment', 'deleted_comment', 'switch_theme', 'customize_save_after', 'wp_update_nav_menu', 'activated_plugin', 'deactivated_plugin', 'upgrader_process_complete'] as $name) $hook($name, $purge, 0);
  // Options change before pluggable.php defines is_user_logged_in() (WordPress schedules its
  // recovery-mode cron event in wp-settings.php): no user is logged in yet then.
  $hook('updated_option', static function ($name) use ($purge) { if (function_exists('is_user_logged_in') && is_user_logged_in() && !str_starts_with((string) $name, '_transient') && !str_starts_with((string) $name, '_site_transient')) $purge(); });
})();`;

/** The site's wp-config.php as text ('' when there is none yet). */
function readWpConfig(dir: string): string {
  try {
    return readFileSync(join(dir, 'wp-config.php'), 'utf8');
  } catch {
    return '';
  }
}

/**
 * What the server defines for a MySQL site before WordPress loads: connection, keys from the
 * environment, replica locks. Constants the site's own wp-config.php defines are left to it.
 */
function databasePrepend(config: WordPressConfig, wpConfig: string): string {
  const db = config.database;
  if (db.kind !== 'mysql') return saltConstants(withoutDefined(config.salts, wpConfig));
  const ownConnection = constantsDefinedIn(wpConfig, CONNECTION_CONSTANTS).length > 0;
  const salts = withoutDefined(config.salts, wpConfig);
  return [
    ownConnection ? '' : connectionConstants(db),
    saltConstants(salts),
    Object.keys(salts).length === SALT_NAMES.length ? '' : SALTS_AT_INSTALL,
    ownConnection ? '' : replicaLocks(db, config.cronInterval || 60),
  ].join('\n');
}

function withoutDefined(salts: Record<string, string>, wpConfig: string): Record<string, string> {
  const defined = new Set(constantsDefinedIn(wpConfig, Object.keys(salts)));
  return Object.fromEntries(Object.entries(salts).filter(([name]) => !defined.has(name)));
}

/** The server settings a WordPress site runs with: its folder as docroot, and what runs before every script. */
export function wordpressServerConfig(config: WordPressConfig): WordPressConfig {
  const httpAllowlist = wordpressAllowlist(config.allowNetwork, config.wordpressOrg);
  // The database's address is open to PHP, but it is not a host WordPress's HTTP API may call.
  const allowNetwork = config.database.kind === 'mysql' ? [...new Set([...httpAllowlist, databaseAddress(config.database)])] : httpAllowlist;
  const wpConfig = readWpConfig(config.dir);
  const prepend = [
    databasePrepend(config, wpConfig),
    outboundHttpConstants(httpAllowlist),
    allowlistedHostsAreExternal(httpAllowlist),
    UPDATE_CHECK_NOTICE,
    TLS_SELF_CALLS,
    URL_REWRITE_FILTER,
    installSelfCheckTimeout(config.requestTimeout),
    ROOT_FILES_QUERY_VARS,
    TABLE_STATUS_FILTER,
    MAIL_FILTERS,
    config.cronInterval > 0 ? CRON_BY_SERVER_ONLY : '',
    config.fileMods ? '' : NO_FILE_MODS,
    config.pageCache ? PAGE_CACHE_PURGE : '',
    siteUrlConstants(config.siteUrl),
    fallbackNotice(config.dir),
  ].join('\n');
  // --uploads: the shared folder is mounted where WordPress writes uploads, and served from there.
  const mounts = config.uploads ? [...config.mounts, { host: config.uploads, guest: `${GUEST_DOCROOT}/wp-content/uploads`, readOnly: false }] : config.mounts;
  return { ...config, docroot: config.dir, allowNetwork, mounts, ini: databaseIni(config), extraPrepend: prepend };
}

/** WordPress settings a reload applies (through the prepend, see wordpressServerConfig). */
export const WORDPRESS_RELOADABLE = ['siteUrl', 'wordpressOrg', 'fileMods', 'db', 'database', 'salts'];

/**
 * A new site is assembled from what --wordpress-version chooses (fetched into `cache/` beside the
 * site's folder; an image may carry a pre-filled cache in var/seed-cache); an existing one is left alone.
 */
async function assembleNewSite(config: WordPressConfig, log: Logger): Promise<{ assembled: boolean }> {
  if (isWordPressTree(config.dir)) {
    const fallback = pendingFallback(config.dir);
    if (fallback) log.warn(fallback, `this site runs the bundled WordPress ${fallback.version}: update it under Dashboard → Updates`);
    return { assembled: false };
  }
  const cacheDir = join(dirname(resolve(config.dir)), 'cache');
  const seedDir = join(projectRoot, SEED_CACHE);
  const core = await chooseWordPress(config.wordpressVersion, config.wordpressMirror, cacheDir, log, seedDir);
  const database = config.database.kind;
  const sqliteZip = core.zip && database === 'sqlite' ? await chooseSqlitePlugin(config.wordpressMirror, cacheDir, log, seedDir) : undefined;
  const result = await assembleWordPress(config.dir, { log, wordpressZip: core.zip, sqliteZip, database });
  if (result.assembled && core.fallbackReason) recordFallback(config.dir, core.fallbackReason);
  return result;
}

/**
 * Whether the public port may open before the first worker is warm (see StartOptions): not for a site
 * just assembled, nor on a shared MySQL database another replica may not have installed yet, when
 * the installer will be submitted (a SQLite site that exists was installed at its first start, or
 * is installed by hand).
 */
export function listensWhileBooting(assembled: boolean, config: Pick<WordPressConfig, 'adminUser' | 'database'>): boolean {
  const installs = config.adminUser !== undefined;
  return !(installs && (assembled || config.database.kind === 'mysql'));
}

/** Assembles WordPress on first run (an existing tree is served as is), serves it, installs if asked, runs cron. */
export async function startWordPress(config: WordPressConfig, log: Logger): Promise<RunningServer> {
  // Unpacked and compiled off the main thread while a new site is fetched and assembled.
  const wasmModule = compilePhpModule(config.php, wordpressCodeCacheLocation(config));
  wasmModule.catch(() => undefined); // startServer reports it
  const { assembled } = await assembleNewSite(config, log);
  if (!assembled) {
    log.info({ dir: config.dir }, 'serving existing WordPress');
    checkDatabaseOfExistingSite(config);
    await migrateWpConfig(config.dir, log);
  }
  if (config.database.kind === 'mysql') {
    await ensureDbErrorDropin(config.dir, log);
    const own = constantsDefinedIn(readWpConfig(config.dir), CONNECTION_CONSTANTS);
    if (own.length > 0) log.warn({ constants: own }, "wp-config.php defines the database connection itself: it is used, not the server's --db / WORDPRESS_DB_* settings");
  }
  // Not while booting on a site the installer may yet be submitted to: a visitor waiting then would be
  // served first, and could install it as theirs (the form asks for nothing but the new admin's details).
  const server = await startServer(wordpressServerConfig(config), log, wasmModule, { listenWhileBooting: listensWhileBooting(assembled, config) });
  try {
    await installIfRequested(server, config, log);
  } catch (error) {
    log.error({ err: error }, 'unattended WordPress install failed');
  }
  startCron(server, config, log);
  return server;
}
