/**
 * Which requests and responses the page cache may keep, and under which key. Pure functions: the
 * cache's safety lives here (a visitor must never get a page made for someone else).
 */

/** Query parameters that only feed analytics: pages differ by none of them, so they leave the key. */
const TRACKING_PARAMS = /^(utm_[a-z_]+|fbclid|gclid|gbraid|wbraid|dclid|msclkid|mc_cid|mc_eid|_ga|_gl|ref|igshid|yclid|twclid)$/i;

/** Paths that are never cached: the dashboard, logins, the REST API, cron, XML-RPC. */
const NEVER_PATHS = /^\/(wp-admin(\/|$)|wp-login\.php|wp-json(\/|$)|wp-cron\.php|xmlrpc\.php|wp-comments-post\.php)/;

/**
 * Cookies that mean the page may be made for this visitor: logged in (wordpress_logged_in_*,
 * wordpress_sec_*, wordpress_*), a commenter (comment_author_*), an unlocked protected post
 * (wp-postpass_*), WooCommerce's session/cart, and PHP's own session. The test cookie WordPress sets
 * on the login form says nothing.
 */
const PERSONAL_COOKIE = /^(wordpress_(?!test_cookie$)|wp-postpass_|comment_author_|wp_woocommerce_session_|woocommerce_items_in_cart|woocommerce_cart_hash|wp-settings-|PHPSESSID$)/;

export interface CacheableRequest {
  method: string;
  /** Path and query as the client sent them. */
  url: string;
  headers: Record<string, string[] | undefined>;
}

/** Why a request bypasses the cache, or null when it may be answered from it. */
export function bypassReason({ method, url, headers }: CacheableRequest): string | null {
  if (method !== 'GET' && method !== 'HEAD') return 'method';
  if (headers.authorization?.length) return 'authorization';
  const { path, query } = splitUrl(url);
  if (NEVER_PATHS.test(path)) return 'path';
  if (query !== null && normalisedQuery(query) === null) return 'query';
  for (const header of headers.cookie ?? []) {
    for (const pair of header.split(';')) {
      const eq = pair.indexOf('=');
      const name = (eq === -1 ? pair : pair.slice(0, eq)).trim();
      if (PERSONAL_COOKIE.test(name)) return 'cookie';
    }
  }
  return null;
}

/**
 * The query without tracking parameters ('' when only those remain), or null when anything else is
 * in it: a search, a preview, a page of a paginated list all bypass rather than fill the cache.
 */
export function normalisedQuery(query: string): string | null {
  if (query === '') return '';
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const name = decodeURIComponentSafe(pair.split('=', 1)[0]);
    if (name === null || !TRACKING_PARAMS.test(name)) return null;
  }
  return '';
}

/** scheme://host/path as PHP saw them (behind a trusted proxy: the public scheme and host). */
export function baseKey(scheme: string, host: string, url: string): string {
  return `${scheme}://${host.toLowerCase()}${splitUrl(url).path}`;
}

/** Statuses worth keeping: a page, a permanent redirect, a not-found page (bots ask for many). */
const CACHEABLE_STATUS = new Set([200, 301, 404]);

/**
 * Whether a response may be kept: no cookie set for this visitor, no Cache-Control that forbids a
 * shared cache, no `Vary: *`, no encoding PHP applied itself (the cache keeps identity bodies).
 */
export function responseCacheable(status: number, headers: Record<string, string | string[] | undefined>): boolean {
  if (!CACHEABLE_STATUS.has(status)) return false;
  if (headers['set-cookie'] !== undefined) return false;
  const cacheControl = String(headers['cache-control'] ?? '').toLowerCase();
  if (/(^|[\s,])(private|no-store|no-cache)([\s,=]|$)/.test(cacheControl)) return false;
  if (varyNames(headers).includes('*')) return false;
  if (headers['content-encoding'] !== undefined) return false;
  return true;
}

/** Request headers a response varies by, lower-case; Accept-Encoding is handled by the cache itself. */
export function varyNames(headers: Record<string, string | string[] | undefined>): string[] {
  const raw = headers.vary;
  const values = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  return [...new Set(values.flatMap((v) => v.split(',')).map((v) => v.trim().toLowerCase()).filter((v) => v !== '' && v !== 'accept-encoding'))].sort();
}

function splitUrl(url: string): { path: string; query: string | null } {
  const q = url.indexOf('?');
  return q === -1 ? { path: url, query: null } : { path: url.slice(0, q), query: url.slice(q + 1) };
}

function decodeURIComponentSafe(value: string): string | null {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}
