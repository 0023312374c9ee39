import t from 'tap';
import { PageCache } from '../server/page-cache/page-cache.js';
import { baseKey, bypassReason, normalisedQuery, responseCacheable, varyNames } from '../server/page-cache/rules.js';

const request = (url: string, headers: Record<string, string[]> = {}, method = 'GET') => ({ method, url, headers });

t.test('which requests bypass the cache', async (t) => {
  t.equal(bypassReason(request('/')), null);
  t.equal(bypassReason(request('/hello-world/', {}, 'HEAD')), null);
  t.equal(bypassReason(request('/?utm_source=x&fbclid=y')), null, 'tracking parameters only');
  t.equal(bypassReason(request('/', {}, 'POST')), 'method');
  t.equal(bypassReason(request('/', { authorization: ['Basic eDp5'] })), 'authorization');
  for (const path of ['/wp-admin/', '/wp-admin', '/wp-login.php', '/wp-json/wp/v2/posts', '/wp-cron.php', '/xmlrpc.php']) t.equal(bypassReason(request(path)), 'path', path);
  t.equal(bypassReason(request('/wp-adminx/')), null, 'a page that only starts like it');
  for (const query of ['/?s=term', '/?p=1', '/?rest_route=/', '/?preview=true', '/?utm_source=x&page=2', '/?%ZZ=1']) t.equal(bypassReason(request(query)), 'query', query);
  const cookies = ['wordpress_logged_in_abc=admin', 'wordpress_sec_abc=x', 'comment_author_abc=Ann', 'wp-postpass_abc=h', 'PHPSESSID=1', 'wp-settings-1=x', 'woocommerce_items_in_cart=1'];
  for (const cookie of cookies) t.equal(bypassReason(request('/', { cookie: [`theme=dark; ${cookie}`] })), 'cookie', cookie);
  t.equal(bypassReason(request('/', { cookie: ['wordpress_test_cookie=WP%20Cookie%20check; _ga=1'] })), null, 'the login form test cookie and analytics cookies say nothing about the visitor');
});

t.test('which responses are kept, and the key', async (t) => {
  t.ok(responseCacheable(200, { 'content-type': 'text/html' }));
  t.ok(responseCacheable(301, { location: '/x/' }));
  t.ok(responseCacheable(404, {}));
  for (const status of [302, 500, 503, 206]) t.notOk(responseCacheable(status, {}), String(status));
  t.notOk(responseCacheable(200, { 'set-cookie': ['a=1'] }), 'a cookie for this visitor');
  for (const cc of ['private', 'no-store', 'no-cache', 'max-age=0, no-cache="set-cookie"', 'public, private']) t.notOk(responseCacheable(200, { 'cache-control': cc }), cc);
  t.ok(responseCacheable(200, { 'cache-control': 'public, max-age=60' }));
  t.notOk(responseCacheable(200, { vary: 'Accept-Encoding, *' }));
  t.notOk(responseCacheable(200, { 'content-encoding': 'gzip' }), 'encoded by PHP itself');
  t.same(varyNames({ vary: ['Accept-Encoding, Cookie', 'accept-language'] }), ['accept-language', 'cookie']);
  t.equal(baseKey('https', 'Example.COM', '/a/?utm_source=x'), 'https://example.com/a/');
  t.not(baseKey('https', 'example.com', '/a/'), baseKey('http', 'example.com', '/a/'), 'the scheme is part of the key');
  t.equal(normalisedQuery('utm_source=a&&gclid=b'), '');
  t.equal(normalisedQuery('p=1'), null);
});

t.test('the cache: freshness, Vary, bounds, purge', async (t) => {
  let now = 0;
  const cache = new PageCache({ ttlMs: 10_000, maxBytes: 3 * 1024 + 3 * 512, maxEntryBytes: 1024, now: () => now });
  const none = () => '';
  const page = (text: string) => ({ status: 200, headers: { 'content-type': 'text/html' }, body: Buffer.from(text.padEnd(1000, '.')) });
  cache.set('k1', [], none, page('one'));
  t.match(cache.get('k1', none)?.body.toString(), /^one/);
  now = 9_999;
  t.ok(cache.get('k1', none), 'fresh until the TTL');
  now = 10_000;
  t.notOk(cache.get('k1', none), 'gone at the TTL');

  const language = (value: string) => (name: string) => (name === 'accept-language' ? value : '');
  cache.set('k2', ['accept-language'], language('fr'), page('french'));
  t.notOk(cache.get('k2', language('de')), 'another language is another page');
  t.match(cache.get('k2', language('fr'))?.body.toString(), /^french/);

  cache.set('big', [], none, { status: 200, headers: {}, body: Buffer.alloc(1025) });
  t.notOk(cache.get('big', none), 'a page above the entry bound is not kept');

  cache.set('a', [], none, page('a'));
  cache.set('b', [], none, page('b'));
  cache.get('k2', language('fr')); // used: stays
  cache.set('c', [], none, page('c'));
  t.ok(cache.size.bytes <= 3 * 1024 + 3 * 512, `bounded (${cache.size.bytes} bytes)`);
  t.notOk(cache.get('a', none), 'the least recently used left first');
  t.ok(cache.get('k2', language('fr')));

  const kept = cache.get('c', none)!;
  cache.purge();
  t.same(cache.size, { pages: 0, bytes: 0 });
  cache.encoded(kept, 'gzip');
  t.same(cache.size, { pages: 0, bytes: 0 }, 'encoding a page read before a purge does not count it again');
});
