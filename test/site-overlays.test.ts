/**
 * A folder mounted inside the docroot (WordPress's --uploads) is one place for PHP, the router and
 * the static server alike: a file PHP writes there is served to the browser from there.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { docrootOverlays, locateInSite } from '../server/site-overlays.js';
import { startTestServer, tempDir } from './helpers/server.js';

t.test('mounts inside the docroot, the deepest first; others are not overlays', async (t) => {
  const base = tempDir(t);
  for (const name of ['uploads', 'deeper', 'elsewhere']) mkdirSync(join(base, name));
  const overlays = docrootOverlays([
    { host: join(base, 'uploads'), guest: '/docroot/wp-content/uploads', readOnly: false },
    { host: join(base, 'deeper'), guest: '/docroot/wp-content/uploads/cache/', readOnly: true },
    { host: join(base, 'elsewhere'), guest: '/data', readOnly: false },
    { host: join(base, 'elsewhere'), guest: '/docroot-other', readOnly: false },
  ], '/docroot');
  t.same(overlays.map((o) => o.prefix), ['wp-content/uploads/cache', 'wp-content/uploads']);
  t.same(locateInSite('/site', overlays, 'wp-content/uploads/2026/a.png'), { root: join(base, 'uploads'), relPath: '2026/a.png', overlay: true });
  t.same(locateInSite('/site', overlays, 'wp-content/uploads/cache/x'), { root: join(base, 'deeper'), relPath: 'x', overlay: true });
  t.same(locateInSite('/site', overlays, 'wp-content/uploadsX/a.png'), { root: '/site', relPath: 'wp-content/uploadsX/a.png', overlay: false });
  t.same(locateInSite('/site', overlays, 'index.php'), { root: '/site', relPath: 'index.php', overlay: false });
});

t.test('a file PHP writes into the mounted folder is served statically from it; escapes stay closed', async (t) => {
  const base = tempDir(t);
  const docroot = join(base, 'site');
  const shared = join(base, 'shared-uploads');
  mkdirSync(join(docroot, 'media'), { recursive: true });
  mkdirSync(shared);
  writeFileSync(join(base, 'secret.txt'), 'outside\n');
  symlinkSync(join(base, 'secret.txt'), join(shared, 'escape.txt'));
  writeFileSync(join(docroot, 'write.php'), "<?php file_put_contents('/docroot/media/hello.txt', 'written by PHP ' . $_GET['n']); echo 'ok';");
  const server = await startTestServer({ docroot, mounts: [{ host: shared, guest: '/docroot/media', readOnly: false }] });
  t.teardown(() => server.close());

  t.equal(await (await fetch(`${server.url}/write.php?n=7`)).text(), 'ok');
  t.equal(readFileSync(join(shared, 'hello.txt'), 'utf8'), 'written by PHP 7', 'PHP wrote into the mounted host folder');
  const response = await fetch(`${server.url}/media/hello.txt`);
  t.equal(response.status, 200);
  t.equal(await response.text(), 'written by PHP 7', 'served from the mounted folder');
  t.equal((await fetch(`${server.url}/media/escape.txt`)).status, 404, 'a symlink out of the mounted folder is not followed');
  t.equal((await fetch(`${server.url}/media/missing.txt`)).status, 404);
});
