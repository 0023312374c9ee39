/**
 * The bench's native nginx config with fastcgi_cache (bench/native-page-cache.ts): present only when
 * asked for, keyed and bypassed as our page cache is, X-Cache added, and accepted by `nginx -t`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { nginxConf, type NativeConfigInput } from '../bench/native-config.js';
import { PAGE_CACHE_TTL_SECONDS } from '../bench/native-page-cache.js';
import { nginxAvailable } from './helpers/nginx.js';
import { tempDir } from './helpers/server.js';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((path) => existsSync(path)) ?? 'nginx';

function input(dir: string, pageCache: boolean): NativeConfigInput {
  return {
    root: join(dir, 'wordpress'),
    nginxPort: 18081,
    fpmPort: 19001,
    children: 2,
    runDir: join(dir, 'run'),
    logDir: join(dir, 'logs'),
    asRoot: process.getuid?.() === 0,
    pageCacheDir: pageCache ? join(dir, 'run', 'page-cache') : undefined,
  };
}

t.test('without a cache folder the config has no cache at all (the uncached scenarios)', async (t) => {
  const conf = nginxConf(input('/tmp/x', false));
  t.notMatch(conf, /fastcgi_cache|X-Cache|\bmap\b/);
});

t.test('with one: keyed, bounded and bypassed as our page cache is', async (t) => {
  const conf = nginxConf(input('/tmp/x', true));
  t.match(conf, /fastcgi_cache_path \/tmp\/x\/run\/page-cache [^;]*keys_zone=bench_pages:/);
  t.match(conf, /fastcgi_cache bench_pages;/);
  t.match(conf, /fastcgi_cache_key "\$scheme\$request_method\$host\$request_uri";/, 'scheme, host and URI (and the method: a HEAD has no body)');
  t.match(conf, new RegExp(`fastcgi_cache_valid 200 301 404 ${PAGE_CACHE_TTL_SECONDS}s;`), "ours' statuses and time to live");
  t.equal(PAGE_CACHE_TTL_SECONDS, 10, 'our --page-cache-ttl default');
  for (const directive of ['fastcgi_cache_bypass', 'fastcgi_no_cache']) {
    t.match(conf, new RegExp(`${directive} \\$bench_personal_cookie \\$bench_never_path \\$args \\$http_authorization;`), `${directive}: cookies, paths, any query, Authorization`);
  }
  t.match(conf, /add_header X-Cache \$upstream_cache_status always;/);
  t.notMatch(conf, /fastcgi_cache_lock/, 'concurrent misses are not merged, as in ours');
  t.match(conf, /tcp_nopush off;/, 'no ~40 ms stall after each cached (chunked, sendfile) page');
  t.match(conf, /tcp_nopush on;/, 'the rest of the config as the uncached scenarios have it');
  const php = conf.slice(conf.indexOf('location ~ \\.php$'));
  t.match(php, /fastcgi_cache bench_pages;/, 'in the PHP location');
});

t.test('the bypass patterns are those of server/page-cache/rules.ts', async (t) => {
  const conf = nginxConf(input('/tmp/x', true));
  const cookie = new RegExp(/map \$http_cookie \$bench_personal_cookie \{\s*default 0;\s*"~([^"]+)" 1;/.exec(conf)![1]);
  for (const header of ['wordpress_logged_in_abc=admin', 'theme=dark; wordpress_sec_abc=x', 'comment_author_abc=Ann', 'wp-postpass_abc=h', 'PHPSESSID=1', 'a=1; wp-settings-1=x']) {
    t.ok(cookie.test(header), header);
  }
  for (const header of ['wordpress_test_cookie=WP%20Cookie%20check; _ga=1', 'mywordpress_logged_in=1', 'theme=dark']) t.notOk(cookie.test(header), header);
  const path = new RegExp(/map \$request_uri \$bench_never_path \{\s*default 0;\s*"~([^"]+)" 1;/.exec(conf)![1]);
  for (const uri of ['/wp-admin/', '/wp-admin', '/wp-login.php?x=1', '/wp-json/wp/v2/posts', '/wp-cron.php', '/xmlrpc.php', '/wp-comments-post.php']) t.ok(path.test(uri), uri);
  for (const uri of ['/', '/wp-adminx/', '/hello-world/']) t.notOk(path.test(uri), uri);
});

t.test('nginx -t accepts it', async (t) => {
  if (!nginxAvailable()) throw new Error('nginx is required (apt-get install nginx-light; .ci/run installs it)');
  const dir = tempDir(t, 'pws-bench-nginx-');
  const file = join(dir, 'nginx.conf');
  for (const sub of ['run', 'logs']) mkdirSync(join(dir, sub));
  writeFileSync(file, nginxConf(input(dir, true)));
  const check = spawnSync(NGINX, ['-t', '-p', join(dir, 'run'), '-c', file, '-e', join(dir, 'error.log')], { encoding: 'utf8' });
  t.equal(check.status, 0, `nginx -t: ${check.stderr}`);
  t.match(check.stderr, /test is successful/);
});
