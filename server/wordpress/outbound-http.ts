/**
 * What WordPress may reach over the network, kept equal to what the sandbox lets PHP reach: the
 * server's allowlist (--allow-network, plus WordPress.org unless --wordpress-org false) becomes
 * WordPress's own WP_HTTP_BLOCK_EXTERNAL / WP_ACCESSIBLE_HOSTS, so a blocked request fails at once
 * in WordPress with its own message instead of as a refused connection, and Site Health reports
 * HTTP as limited to named hosts rather than blocked.
 */
import { readFile, rename, stat, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { phpString } from './wp-config.js';

/** HTTPS only: core, plugin, theme and translation updates, the directories, and the dashboard's news. */
export const WORDPRESS_ORG_HOSTS = ['api.wordpress.org:443', 'downloads.wordpress.org:443', 'wordpress.org:443', 'planet.wordpress.org:443'];

/** The allowlist a WordPress site runs with. */
export function wordpressAllowlist(allowNetwork: readonly string[], wordpressOrg: boolean): string[] {
  return [...new Set([...allowNetwork, ...(wordpressOrg ? WORDPRESS_ORG_HOSTS : [])])];
}

/** WP_ACCESSIBLE_HOSTS entries for an allowlist: names without their port (WordPress's list has none); `*.domain` kept. */
export function accessibleHosts(allow: readonly string[]): string[] {
  const hosts = allow.map((entry) => {
    const clean = entry.trim().toLowerCase();
    if (clean.startsWith('[')) return clean.slice(1, clean.indexOf(']'));
    if ((clean.match(/:/g) ?? []).length > 1) return clean; // a bare IPv6 address
    return clean.replace(/:\d+$/, '');
  });
  return [...new Set(hosts.filter((host) => host !== '' && host !== '*'))];
}

/**
 * PHP (run before WordPress) that defines the two constants when must-use plugins have loaded: after
 * wp-config.php, so a site that defines either keeps its own value and nothing is defined twice, and
 * before WordPress makes any request. `*` in the allowlist: nothing is blocked.
 */
export function outboundHttpConstants(allow: readonly string[]): string {
  const open = allow.some((entry) => entry.trim() === '*');
  const hosts = accessibleHosts(allow);
  const defines = [
    `if (!defined('WP_HTTP_BLOCK_EXTERNAL')) define('WP_HTTP_BLOCK_EXTERNAL', ${open ? 'false' : 'true'});`,
    !open && hosts.length ? `if (!defined('WP_ACCESSIBLE_HOSTS')) define('WP_ACCESSIBLE_HOSTS', ${phpString(hosts.join(','))});` : '',
  ].join(' ');
  return `$GLOBALS['wp_filter']['muplugins_loaded'][10][] = ['accepted_args' => 0, 'function' => static function () { ${defines} }];`;
}

/**
 * WordPress refuses to download from a host that resolves to a private address (its SSRF guard in
 * wp_http_validate_url). php.wasm answers every name lookup with a made-up 172.29.x.x address, so
 * every download failed ("A valid URL was not provided": plugin installs, updates). Hosts the
 * allowlist names are declared external; the relay still checks each connection against the
 * allowlist, which is the guard that holds here.
 */
export function allowlistedHostsAreExternal(allow: readonly string[]): string {
  const hosts = accessibleHosts(allow);
  if (!hosts.length) return '';
  // Matched as WordPress matches WP_ACCESSIBLE_HOSTS: exact, or `*` standing for any characters.
  return `$GLOBALS['wp_filter']['http_request_host_is_external'][10][] = ['accepted_args' => 2, 'function' => static function ($external, $host) {
  if ($external || !is_string($host)) return $external;
  foreach ([${hosts.map(phpString).join(', ')}] as $allowed) if (preg_match('/^' . str_replace('\\*', '.+', preg_quote($allowed, '/')) . '$/i', $host)) return true;
  return false;
}];`;
}

/**
 * WordPress treats a failed update check like "no update": the Updates screen then says "You have
 * the latest version of WordPress" and that the site is kept up to date. The outcome of each check is
 * kept (a site option), and while the last one failed, the Updates screen says it could not check,
 * and it and the dashboard show why.
 */
export const UPDATE_CHECK_NOTICE = String.raw`$GLOBALS['wp_filter']['http_api_debug'][10][] = ['accepted_args' => 5, 'function' => static function ($response, $context, $class, $args, $url) {
  if ($context !== 'response' || !is_string($url) || !preg_match('#^https?://api\.wordpress\.org/core/version-check/#', $url)) return;
  if (is_wp_error($response)) update_site_option('php_wasm_server_update_check_failed', $response->get_error_message());
  else delete_site_option('php_wasm_server_update_check_failed');
}];
$GLOBALS['wp_filter']['load-update-core.php'][10][] = ['accepted_args' => 0, 'function' => static function () {
  // Only on the Updates screen, not a filter on every translation of every page. The screen checks
  // again after this hook, so the outcome is read when the sentence is.
  add_filter('gettext_default', static function ($translation, $text) {
    if ($text !== 'You have the latest version of WordPress.' && $text !== 'This site is automatically kept up to date with each new version of WordPress.') return $translation;
    if (get_site_option('php_wasm_server_update_check_failed', false) === false) return $translation;
    return $text === 'You have the latest version of WordPress.' ? 'WordPress could not check for updates.' : 'Updates are installed once WordPress.org can be reached.';
  }, 10, 2);
}];
foreach (['admin_notices', 'network_admin_notices'] as $__pws_hook) $GLOBALS['wp_filter'][$__pws_hook][10][] = ['accepted_args' => 0, 'function' => static function () {
  if (!isset($GLOBALS['pagenow']) || !in_array($GLOBALS['pagenow'], ['index.php', 'update-core.php'], true) || !current_user_can('update_core')) return;
  $error = get_site_option('php_wasm_server_update_check_failed', false);
  if ($error === false) return;
  printf('<div class="notice notice-warning"><p>%s</p></div>', esc_html(sprintf('WordPress could not check for updates, so it cannot tell whether this version (%s) is current: %s', get_bloginfo('version'), $error)));
}];
unset($__pws_hook);`;

/** What wp-config.php files written before this release say about outgoing HTTP (now the server's to set). */
const LEGACY_BLOCK = "/** PHP has no network in the sandbox: refuse external HTTP requests at once instead of timing out. */\ndefine( 'WP_HTTP_BLOCK_EXTERNAL', true );\n";

/**
 * Sites assembled by earlier releases carry a generated WP_HTTP_BLOCK_EXTERNAL in wp-config.php,
 * which would keep WordPress blocking what the allowlist now permits: those two generated lines
 * (exactly as written then) are removed, once; a line the owner wrote is left alone.
 */
export async function migrateWpConfig(dir: string, log: Logger): Promise<boolean> {
  const file = join(dir, 'wp-config.php');
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined || !text.includes(LEGACY_BLOCK)) return false;
  const temporary = `${file}.php-wasm-server-${process.pid}`;
  await writeFile(temporary, text.replace(`${LEGACY_BLOCK}\n`, '').replace(LEGACY_BLOCK, ''), { flag: 'wx' });
  await chmod(temporary, (await stat(file)).mode & 0o7777);
  await rename(temporary, file);
  log.info({ file }, 'wp-config.php: removed the generated WP_HTTP_BLOCK_EXTERNAL; WordPress now follows --allow-network and --wordpress-org');
  return true;
}
