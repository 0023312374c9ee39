/**
 * nginx's fastcgi_cache for the native side of the page-cache scenario, set up as our server's page
 * cache works (server/page-cache/rules.ts): anonymous GET/HEAD only, a short time to live, no query
 * string, not the dashboard/login/REST/cron paths, not for visitors with a login, commenter,
 * post-password or session cookie, nor with Authorization; X-Cache tells HIT from MISS.
 */

/** Both caches keep a page this long (our --page-cache-ttl default). */
export const PAGE_CACHE_TTL_SECONDS = 10;

/** Our cache keeps up to 64 MB (--page-cache-size default); nginx's keys zone is sized for it. */
const MAX_SIZE = '64m';

/** The cookies ours treats as "this page may be made for this visitor" (PERSONAL_COOKIE there). */
const PERSONAL_COOKIE = '(^|;\\s*)(wordpress_(?!test_cookie=)|wp-postpass_|comment_author_|wp_woocommerce_session_|woocommerce_items_in_cart|woocommerce_cart_hash|wp-settings-|PHPSESSID=)';

/** The paths ours never caches (NEVER_PATHS there). */
const NEVER_PATHS = '^/(wp-admin(/|$)|wp-login\\.php|wp-json(/|$)|wp-cron\\.php|xmlrpc\\.php|wp-comments-post\\.php)';

/** http-block part: the cache folder (emptied by the bench before each start) and the bypass rules. */
export function fastcgiCacheHttp(cacheDir: string): string {
  return `    fastcgi_cache_path ${cacheDir} levels=1:2 keys_zone=bench_pages:8m max_size=${MAX_SIZE} inactive=${PAGE_CACHE_TTL_SECONDS * 6}s use_temp_path=off;
    map $http_cookie $bench_personal_cookie {
        default 0;
        "~${PERSONAL_COOKIE}" 1;
    }
    map $request_uri $bench_never_path {
        default 0;
        "~${NEVER_PATHS}" 1;
    }`;
}

/**
 * PHP-location part. The key holds the method besides scheme, host and URI: php-fpm answers a HEAD
 * without a body, which must never be served to a GET. Any query string bypasses (ours lets only
 * tracking parameters through: the bench sends none). Like ours, concurrent misses are not merged
 * (no fastcgi_cache_lock), and a response with Set-Cookie or a private/no-store Cache-Control is
 * not kept (nginx's defaults). tcp_nopush is off here: a cached page comes from a file (sendfile)
 * and is chunked (PHP sent no Content-Length), and with the http block's tcp_nopush on each such
 * response stalled ~40 ms on a keep-alive connection (measured: 180 req/s at idle CPU, p50 44 ms;
 * off: thousands, p50 under 1 ms). Uncached PHP responses never come from a file: no change there.
 */
export function fastcgiCacheLocation(): string {
  return `            fastcgi_cache bench_pages;
            fastcgi_cache_key "$scheme$request_method$host$request_uri";
            fastcgi_cache_valid 200 301 404 ${PAGE_CACHE_TTL_SECONDS}s;
            fastcgi_cache_bypass $bench_personal_cookie $bench_never_path $args $http_authorization;
            fastcgi_no_cache $bench_personal_cookie $bench_never_path $args $http_authorization;
            add_header X-Cache $upstream_cache_status always;
            tcp_nopush off;`;
}
