/**
 * The address WordPress calls home. WordPress records it at install time (from the installer's own
 * request) and builds every link from it, so it must be the public address, never the listen address.
 */
import { ConfigError } from '../config/coerce.js';
import { bracketIPv6, isLocalListenHost } from '../host-address.js';
import { phpString } from './wp-config.js';

/**
 * What a site without --site-url records: http://localhost:PORT for wildcard or loopback listeners
 * (a wildcard address such as 0.0.0.0 is no address a browser can use), else the listen address.
 */
export function defaultSiteUrl(listenHost: string, port: number): string {
  return `http://${isLocalListenHost(listenHost) ? 'localhost' : bracketIPv6(listenHost)}:${port}`;
}

/**
 * An absolute http(s) URL with no query, fragment or credentials, without its trailing slash (as
 * WordPress stores home and siteurl). Undefined stays undefined: no site URL configured.
 */
export function normaliseSiteUrl(raw: string | undefined, source = '--site-url'): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  const fail = (): never => {
    throw new ConfigError('siteUrl', 'must be an http:// or https:// URL without query, fragment or user (e.g. https://example.com/blog)', raw, source);
  };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail();
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.search || url.hash || url.username || url.password) fail();
  // Not a name of its own: the same bytes go into PHP source below, so refuse anything odd early.
  if (/['\\\s]/.test(raw)) fail();
  return url.href.replace(/\/+$/, '');
}

/**
 * PHP run before WordPress loads (through the server's prepend file) on every request: the
 * server's site URL wins over the database, so changing --site-url moves the site without a
 * database edit, and existing sites pick it up at the next start with no change to wp-config.php.
 */
export function siteUrlConstants(siteUrl: string | undefined): string {
  if (!siteUrl) return '';
  return ['WP_HOME', 'WP_SITEURL'].map((name) => `define(${phpString(name)}, ${phpString(siteUrl)});`).join(' ');
}
