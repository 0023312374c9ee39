/**
 * /favicon.ico and /robots.txt on a WordPress site: WordPress answers both itself (its site icon or
 * the W logo; its generated robots.txt), with pretty and with plain permalinks. With plain
 * permalinks WordPress used to redirect /favicon.ico to /favicon.ico/, which rendered the whole
 * home page for every browser that asked. A real file of that name is served as the file.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { tempDir } from './helpers/server.js';
import { until } from './helpers/until.js';
import { phpErrors, startTestWordPress, type TestWordPress } from './helpers/wordpress.js';

const ADMIN = { siteTitle: 'Root Files Test', adminUser: 'admin', adminPassword: 'correct horse battery staple', adminEmail: 'admin@example.com' };

async function get(server: TestWordPress, path: string): Promise<{ status: number; location: string | null; type: string | null; body: string }> {
  const response = await fetch(`http://127.0.0.1:${server.port}${path}`, { redirect: 'manual', signal: AbortSignal.timeout(60_000) });
  return { status: response.status, location: response.headers.get('location'), type: response.headers.get('content-type'), body: await response.text() };
}

/** Sets the permalink structure the way the Permalinks screen does, through a script of the test's own site. */
async function setPermalinks(server: TestWordPress, structure: string): Promise<void> {
  writeFileSync(join(server.config.dir, 'test-permalinks.php'),
    `<?php require __DIR__ . '/wp-load.php'; update_option('permalink_structure', ${JSON.stringify(structure)}); flush_rewrite_rules(); echo get_option('permalink_structure');`);
  const answer = await get(server, '/test-permalinks.php');
  if (answer.status !== 200 || answer.body !== structure) throw new Error(`setting permalinks answered ${answer.status}: ${answer.body.slice(0, 200)}`);
}

t.test('favicon.ico and robots.txt come from WordPress, never as a rendered page', async (t) => {
  const server = await startTestWordPress(tempDir(t, 'pws-rootfiles-'), ADMIN);
  t.teardown(() => server.close());

  for (const [label, structure] of [['plain', ''], ['pretty', '/%postname%/']] as const) {
    await setPermalinks(server, structure);
    const favicon = await get(server, '/favicon.ico');
    t.equal(favicon.status, 302, `${label} permalinks: /favicon.ico redirects`);
    t.match(favicon.location ?? '', /\/wp-includes\/images\/w-logo-blue-white-bg\.png$/, `${label}: to the W logo, not to /favicon.ico/`);
    t.notMatch(favicon.body, /<html/i, `${label}: no page rendered`);

    const robots = await get(server, '/robots.txt');
    t.equal(robots.status, 200, `${label} permalinks: /robots.txt answers`);
    t.match(robots.type ?? '', /^text\/plain/, `${label}: as text`);
    t.match(robots.body, /User-agent: \*/, `${label}: WordPress's generated robots.txt`);
    t.match(robots.body, /Disallow: \/wp-admin\//);
  }

  writeFileSync(join(server.config.dir, 'favicon.ico'), Buffer.from([0, 0, 1, 0, 0, 0]));
  // The router re-checks the disk within --stat-cache (1 s): wait for it, bounded.
  let real = await get(server, '/favicon.ico');
  await until('the new favicon.ico to be seen', async () => (real = await get(server, '/favicon.ico')).status !== 302, 30_000);
  t.equal(real.status, 200, 'a real favicon.ico in the site folder is served');
  t.equal(real.body.length, 6, 'as the file itself');
  t.same(phpErrors(server.logs), [], 'no PHP errors logged');
});
