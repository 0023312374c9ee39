/**
 * Where a new site's WordPress comes from (sources.ts, download.ts), against a local mirror: the
 * latest release fetched once, verified against its published SHA-1 and cached; a wrong checksum or
 * an interrupted download refused with nothing left behind; offline, the cached then the bundled
 * build; the SQLite plugin checked to be the plugin.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { pino } from 'pino';
import { chooseSqlitePlugin, chooseWordPress, coreVersion, parseWordPressVersion } from '../server/wordpress/sources.js';
import { downloadFile } from '../server/wordpress/download.js';
import { captureLogger, tempDir } from './helpers/server.js';
import { startMirror } from './helpers/mirror.js';
import { releaseZip, sqlitePluginZip } from './helpers/wordpress-release.js';
import { freePort } from './helpers/ports.js';

const silent = pino({ level: 'silent' });
const leftovers = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((name) => name.includes('partial') || name.includes('download')) : []);

t.test('--wordpress-version values', async (t) => {
  t.same(parseWordPressVersion('latest'), { kind: 'latest' });
  t.same(parseWordPressVersion('bundled'), { kind: 'bundled' });
  t.same(parseWordPressVersion('6.8.3'), { kind: 'version', version: '6.8.3' });
  t.same(parseWordPressVersion('7.1'), { kind: 'version', version: '7.1' });
  t.same(parseWordPressVersion('/tmp/wp.ZIP'), { kind: 'file', file: '/tmp/wp.ZIP' });
  for (const bad of ['', 'newest', '6', '6.8.3-beta', '../x']) t.equal(parseWordPressVersion(bad), null, JSON.stringify(bad));
  await t.rejects(chooseWordPress('newest', 'http://127.0.0.1:1', tempDir(t), silent), /must be latest, bundled/);
  await t.rejects(chooseWordPress('/nowhere/wp.zip', 'http://127.0.0.1:1', tempDir(t), silent), /no such file/);
  t.same(await chooseWordPress('bundled', 'http://127.0.0.1:1', tempDir(t), silent), {}, 'bundled: no archive, no network');
});

t.test('latest: fetched once, checked against its .sha1, cached; offline, the cached one', async (t) => {
  const work = tempDir(t);
  const release = await releaseZip(work, '6.8.99');
  const mirror = await startMirror({ '/latest.zip': release.zip, '/latest.zip.sha1': `${release.sha1}\n` });
  t.teardown(() => mirror.close());
  const cache = join(work, 'cache');
  const { log, logs } = captureLogger();

  const first = await chooseWordPress('latest', mirror.url, cache, log);
  t.equal(first.version, '6.8.99', 'the version read from the archive');
  t.equal(coreVersion(first.zip!), '6.8.99');
  t.match(logs.find((l) => /downloaded; its SHA-1 matches/.test(String(l.msg))), { sha1: release.sha1, version: '6.8.99' }, 'logged with its checksum');
  const second = await chooseWordPress('latest', mirror.url, cache, log);
  t.equal(second.zip, first.zip, 'the second site uses the cached archive');
  t.same(mirror.requests.filter((p) => p === '/latest.zip'), ['/latest.zip'], 'fetched once (only the checksum is asked again)');
  t.same(await chooseWordPress('6.8.99', 'http://127.0.0.1:1', cache, log), { zip: first.zip, version: '6.8.99' }, 'an explicit cached version needs no network');

  await mirror.close();
  const offline = await chooseWordPress('latest', mirror.url, cache, log);
  t.equal(offline.zip, first.zip, 'offline: the cached latest');
  t.match(logs.at(-1), { msg: /using the cached 6\.8\.99/ });
  t.same(leftovers(cache), [], 'no temporary files');
});

t.test('a checksum mismatch or an interrupted download is refused and leaves nothing; latest falls back to the bundled build', async (t) => {
  const work = tempDir(t);
  const release = await releaseZip(work, '6.8.99');
  const mirror = await startMirror({
    '/latest.zip': release.zip,
    '/latest.zip.sha1': 'f'.repeat(40),
    '/wordpress-6.8.98.zip': { cutAfter: Math.floor(release.zip.length / 2), body: release.zip },
    '/wordpress-6.8.98.zip.sha1': release.sha1,
    '/wordpress-6.8.97.zip': release.zip,
    '/wordpress-6.8.97.zip.sha1': release.sha1,
  });
  t.teardown(() => mirror.close());
  const cache = join(work, 'cache');

  const mismatch = await chooseWordPress('latest', mirror.url, cache, silent);
  t.equal(mismatch.zip, undefined, 'latest with a wrong checksum: the bundled build');
  t.match(mismatch.fallbackReason, /does not match the published f{40}/, 'and why');
  t.same(readdirSync(cache), [], 'nothing kept');

  await t.rejects(chooseWordPress('6.8.98', mirror.url, cache, silent), /ended after \d+ of \d+ bytes|terminated|aborted|socket/i, 'an interrupted download of an explicit version fails');
  t.same(readdirSync(cache), [], 'and leaves nothing behind');
  await t.rejects(chooseWordPress('6.8.97', mirror.url, cache, silent), /holds WordPress 6\.8\.99, not 6\.8\.97/, 'an archive of another version is refused');
  await t.rejects(chooseWordPress('6.8.96', mirror.url, cache, silent), /HTTP 404/, 'a version the mirror lacks is an error, not a silent fallback');

  mirror.files.set('/latest.zip.sha1', { unsized: Buffer.alloc(64 * 1024, 'a') });
  const huge = await chooseWordPress('latest', mirror.url, cache, silent);
  t.match(huge.fallbackReason, /more than the 1024 bytes expected/, 'a checksum file without Content-Length is cut off at its limit');

  const port = await freePort();
  const offline = await chooseWordPress('latest', `http://127.0.0.1:${port}`, join(work, 'empty-cache'), silent);
  t.equal(offline.zip, undefined, 'offline with nothing cached: the bundled build');
  t.match(offline.fallbackReason, /ECONNREFUSED/);
});

t.test('a download over its size limit is cut off and removed', async (t) => {
  const work = tempDir(t);
  const mirror = await startMirror({ '/big': Buffer.alloc(4096, 1) });
  t.teardown(() => mirror.close());
  const dest = join(work, 'big');
  await t.rejects(downloadFile(`${mirror.url}/big`, dest, { maxBytes: 1000, timeoutMs: 10_000 }), /more than the 1000 bytes allowed/);
  t.same(readdirSync(work), [], 'nothing written');
});

t.test('the SQLite plugin: fetched and checked to be the plugin, else the bundled one', async (t) => {
  const work = tempDir(t);
  const cache = join(work, 'cache');
  const notPlugin = join(work, 'x.zip');
  writeFileSync(notPlugin, 'not a zip');
  const mirror = await startMirror({ '/plugin/sqlite-database-integration.zip': sqlitePluginZip('9.9.9-test') });
  t.teardown(() => mirror.close());
  const fetched = await chooseSqlitePlugin(mirror.url, cache, silent);
  t.match(fetched, /sqlite-database-integration-9\.9\.9-test\.zip$/, 'kept under its version');

  mirror.files.set('/plugin/sqlite-database-integration.zip', Buffer.from('PK\x03\x04 not really'));
  t.equal(await chooseSqlitePlugin(mirror.url, cache, silent), fetched, 'something else: the cached plugin');
  const empty = join(work, 'empty-cache');
  t.equal(await chooseSqlitePlugin(mirror.url, empty, silent), undefined, 'nothing cached: the bundled plugin');
  mirror.files.delete('/plugin/sqlite-database-integration.zip');
  t.equal(await chooseSqlitePlugin(mirror.url, empty, silent), undefined, 'missing: the bundled plugin');
  t.same([...leftovers(cache), ...leftovers(empty)], [], 'no temporary files');
});
