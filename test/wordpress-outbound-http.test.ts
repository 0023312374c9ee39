/**
 * WordPress's outgoing-HTTP settings follow the server's allowlist (outbound-http.ts): the
 * constants it defines, and the one-time removal of the WP_HTTP_BLOCK_EXTERNAL that wp-config.php
 * files of earlier releases carry.
 */
import { readFileSync, statSync, writeFileSync, chmodSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { pino } from 'pino';
import { accessibleHosts, allowlistedHostsAreExternal, migrateWpConfig, outboundHttpConstants, WORDPRESS_ORG_HOSTS, wordpressAllowlist } from '../server/wordpress/outbound-http.js';
import { renderWpConfig } from '../server/wordpress/wp-config.js';
import { tempDir } from './helpers/server.js';

const silent = pino({ level: 'silent' });

t.test('the allowlist: WordPress.org over HTTPS unless closed, added to --allow-network', async (t) => {
  t.same(wordpressAllowlist([], false), [], 'closed and nothing else: nothing');
  t.same(wordpressAllowlist([], true), WORDPRESS_ORG_HOSTS);
  t.ok(WORDPRESS_ORG_HOSTS.every((host) => host.endsWith(':443')), 'HTTPS only');
  t.same(wordpressAllowlist(['smtp.example.com:587', 'api.wordpress.org:443'], true), ['smtp.example.com:587', ...WORDPRESS_ORG_HOSTS], 'no duplicates');
});

t.test('WP_ACCESSIBLE_HOSTS: names without ports, wildcards kept, `*` opens everything', async (t) => {
  t.same(accessibleHosts(['api.wordpress.org:443', 'Example.com', '*.cdn.example', '[2001:db8::1]:443', '::1', '*', '']), ['api.wordpress.org', 'example.com', '*.cdn.example', '2001:db8::1', '::1']);
  const closed = outboundHttpConstants([]);
  t.match(closed, "define('WP_HTTP_BLOCK_EXTERNAL', true)");
  t.notMatch(closed, 'WP_ACCESSIBLE_HOSTS', 'no hosts: none named');
  t.match(outboundHttpConstants(WORDPRESS_ORG_HOSTS), "define('WP_ACCESSIBLE_HOSTS', 'api.wordpress.org,downloads.wordpress.org,wordpress.org,planet.wordpress.org')");
  const open = outboundHttpConstants(['example.com', '*']);
  t.match(open, "define('WP_HTTP_BLOCK_EXTERNAL', false)");
  t.notMatch(open, 'WP_ACCESSIBLE_HOSTS');
  t.match(closed, "if (!defined('WP_HTTP_BLOCK_EXTERNAL'))", "a site's own definition wins");
  t.match(outboundHttpConstants(["it's.example"]), "'it\\'s.example'", 'quoted for PHP');
});

t.test("hosts the allowlist names count as external for WordPress's download guard (php.wasm's lookups give private addresses)", async (t) => {
  t.equal(allowlistedHostsAreExternal([]), '', 'nothing named: WordPress decides alone');
  t.equal(allowlistedHostsAreExternal(['*']), '', '`*` names no host');
  const filter = allowlistedHostsAreExternal(['downloads.wordpress.org:443', '*.example.com']);
  t.match(filter, "['downloads.wordpress.org', '*.example.com']");
  t.match(filter, "['wp_filter']['http_request_host_is_external']");
});

t.test('an earlier release\'s generated WP_HTTP_BLOCK_EXTERNAL is removed once; the rest of wp-config.php is kept', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'wp-config.php');
  const legacy = renderWpConfig().replace(
    "/* That's all, stop editing!",
    "/** PHP has no network in the sandbox: refuse external HTTP requests at once instead of timing out. */\ndefine( 'WP_HTTP_BLOCK_EXTERNAL', true );\n\n/* That's all, stop editing!",
  );
  writeFileSync(file, legacy);
  chmodSync(file, 0o640);
  t.ok(await migrateWpConfig(dir, silent), 'migrated');
  const after = readFileSync(file, 'utf8');
  t.notMatch(after, 'WP_HTTP_BLOCK_EXTERNAL\', true', 'the generated line is gone');
  t.equal(after, legacy.replace("/** PHP has no network in the sandbox: refuse external HTTP requests at once instead of timing out. */\ndefine( 'WP_HTTP_BLOCK_EXTERNAL', true );\n\n", ''), 'nothing else changed');
  t.equal(statSync(file).mode & 0o777, 0o640, 'its mode kept');
  t.same(readdirSync(dir), ['wp-config.php'], 'no temporary file left');
  t.notOk(await migrateWpConfig(dir, silent), 'a second start changes nothing');

  const owners = "<?php\ndefine( 'WP_HTTP_BLOCK_EXTERNAL', true ); // mine\n";
  writeFileSync(file, owners);
  t.notOk(await migrateWpConfig(dir, silent), "an owner's own line is left alone");
  t.equal(readFileSync(file, 'utf8'), owners);
  t.notOk(await migrateWpConfig(join(dir, 'missing'), silent), 'no wp-config.php: nothing to do');
});
