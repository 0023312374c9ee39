/**
 * The warm image kept between runs (pool/kept-image.ts): with a kept opcache file cache folder, a
 * restarted server's first worker starts warm from the image the last run wrote, with real php.wasm
 * workers over HTTP. What changed while the server was down shows as on a fresh start: edited
 * files, a symlink switched to another release, this start's own prepend. A damaged image, other
 * settings or a folder others can write are not started from.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { ServerConfig } from '../server/config/types.js';
import { IMAGE_FOLDER } from '../server/pool/kept-image.js';
import { startTestServer, tempDir, type TestServer } from './helpers/server.js';
import { until } from './helpers/until.js';

const ADOPTED = 'workers start from the warm image kept from the last run';

/** Files an hour old: opcache caches no file changed in the last 2 s (opcache.file_update_protection). */
function writeOld(path: string, text: string): void {
  writeFileSync(path, text);
  const anHourAgo = Date.now() / 1000 - 3600;
  utimesSync(path, anHourAgo, anHourAgo);
}

/**
 * A site whose warm-up compiles lib.php through the `current` symlink (a release folder, as deploy
 * tools lay a site out) and counts itself in /counts/warmups.
 */
function site(t: Test): { docroot: string; counts: string; cache: string } {
  const docroot = tempDir(t, 'pws-kept-site-');
  const counts = tempDir(t, 'pws-kept-counts-');
  const cache = tempDir(t, 'pws-kept-cache-');
  chmodSync(cache, 0o700);
  for (const release of ['rel1', 'rel2']) {
    mkdirSync(join(docroot, release));
    writeOld(join(docroot, release, 'lib.php'), `<?php function lib_value() { return '${release}'; }\n`);
  }
  symlinkSync('rel1', join(docroot, 'current'));
  // Through the include path, once and again, and by a full path through the link: the lookups PHP and opcache shortcut.
  writeOld(join(docroot, 'warm.php'), "<?php require_once 'current/lib.php'; require_once 'current/lib.php'; include_once __DIR__ . '/current/lib.php'; @include __DIR__ . '/extra.php'; file_put_contents('/counts/warmups', \"w\\n\", FILE_APPEND);\n");
  writeOld(join(docroot, 'extra.php'), "<?php // compiled by the warm-up while it exists\n");
  writeOld(join(docroot, 'state.php'), `<?php
$cached = opcache_is_script_cached(realpath(__DIR__ . '/current/lib.php'));
require_once 'current/lib.php';
header('content-type: application/json');
echo json_encode(['pid' => getmypid(), 'libCached' => $cached, 'lib' => lib_value(), 'token' => hash('sha256', PHP_WASM_SERVER_SELF_CALL_TOKEN)]);
`);
  writeOld(join(docroot, 'rewrite.php'), "<?php file_put_contents(__DIR__ . '/rel1/lib.php', \"<?php function lib_value() { return 'rewritten'; }\\n\"); echo 'done';\n");
  return { docroot, counts, cache };
}

/**
 * opcache compares a file with its copy at most hourly: only the refresh after a restore makes
 * changes show at once. It caches files just written too (the worker's own, written at its boot,
 * are then in the image).
 */
function settings(s: { docroot: string; counts: string; cache: string }, overrides: Partial<ServerConfig> = {}): Partial<ServerConfig> {
  return {
    docroot: s.docroot, workers: 1, warmup: ['/warm.php'], opcacheFileCache: s.cache, mounts: [{ host: s.counts, guest: '/counts', readOnly: false }],
    ini: { 'opcache.revalidate_freq': '3600', 'opcache.file_update_protection': '0' }, ...overrides,
  };
}

interface State {
  pid: number;
  libCached: boolean;
  lib: string;
  token: string;
}

async function state(server: TestServer): Promise<State> {
  const response = await fetch(`${server.url}/state.php`);
  if (response.status !== 200) throw new Error(`state.php answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as State;
}

const imageFolder = (cache: string) => join(cache, IMAGE_FOLDER);
const keptFiles = (cache: string) => (existsSync(imageFolder(cache)) ? readdirSync(imageFolder(cache)).sort() : []);
const warmups = (counts: string) => (existsSync(join(counts, 'warmups')) ? readFileSync(join(counts, 'warmups'), 'utf8').split('\n').filter(Boolean).length : 0);
const describedPages = (cache: string) => {
  const description = keptFiles(cache).find((name) => name.endsWith('.json'));
  return description && (JSON.parse(readFileSync(join(imageFolder(cache), description), 'utf8')) as { pages: string }).pages;
};
const logged = (server: TestServer, msg: string) => server.logs.filter((line) => line.msg === msg);
const firstBoot = (server: TestServer) => logged(server, 'php worker booted')[0];

/** A server run that leaves a kept image behind, and what its first state was. */
async function firstRun(t: Test, s: ReturnType<typeof site>, overrides: Partial<ServerConfig> = {}): Promise<State> {
  const server = await startTestServer(settings(s, overrides));
  try {
    await until('the kept image', () => keptFiles(s.cache).some((name) => name.endsWith('.json')));
    return await state(server);
  } finally {
    await server.close();
  }
}

t.test("a restart's first worker starts from the image the last run kept: warm, no warm-up of its own, this start's prepend", async (t) => {
  const s = site(t);
  const before = await firstRun(t, s);
  t.equal(warmups(s.counts), 1, 'the first run warmed up once');
  const files = keptFiles(s.cache);
  t.equal(files.filter((name) => name.endsWith('.json')).length, 1, 'one description');
  t.equal(files.filter((name) => name.endsWith('.pages')).length, 1, 'one pages file');
  t.equal(files.filter((name) => name.endsWith('.tmp')).length, 0, 'no temporary file left');
  const description = JSON.parse(readFileSync(join(imageFolder(s.cache), files.find((name) => name.endsWith('.json'))!), 'utf8')) as { pages: string; bytes: number };
  t.equal(statSync(join(imageFolder(s.cache), description.pages)).size, description.bytes, 'the pages file is whole');
  t.equal(statSync(imageFolder(s.cache)).mode & 0o777, 0o700, 'the folder is private');
  t.equal(statSync(join(imageFolder(s.cache), description.pages)).mode & 0o777, 0o600, 'the pages are private');

  const server = await startTestServer(settings(s));
  t.teardown(() => server.close());
  const after = await state(server);
  t.equal(logged(server, ADOPTED).length, 1, 'the kept image was taken');
  t.match(firstBoot(server), { fromImage: true }, 'the first worker booted from it');
  t.equal(after.libCached, true, 'its first request found lib.php compiled already');
  t.equal(warmups(s.counts), 1, 'no warm-up ran on the restart');
  t.equal(after.lib, 'rel1');
  t.not(after.token, before.token, "PHP sees this start's self-call token, not the last run's");
  t.same(firstBoot(server)?.stale, { paths: 0, scripts: 0 }, 'its refresh found nothing out of date');
  t.same(keptFiles(s.cache), files, 'the kept image is still the one');
});

t.test('what changed while the server was down shows at once: an edited file, a symlink switched to another release', async (t) => {
  const s = site(t);
  await firstRun(t, s);

  writeFileSync(join(s.docroot, 'rel1', 'lib.php'), "<?php function lib_value() { return 'edited'; }\n");
  utimesSync(join(s.docroot, 'rel1', 'lib.php'), Date.now() / 1000 - 60, Date.now() / 1000 - 60);
  const before = describedPages(s.cache);
  const edited = await startTestServer(settings(s));
  t.teardown(() => edited.close());
  const afterEdit = await state(edited);
  t.match(firstBoot(edited), { fromImage: true, stale: { paths: 0, scripts: 1 } }, 'restored, and one script found changed');
  t.equal(afterEdit.lib, 'edited', 'the edited file runs');
  t.equal(warmups(s.counts), 2, 'so the worker warmed up as a fresh one does');
  await until('the image to be replaced', () => logged(edited, 'took a warm memory image for new workers').length === 1);
  await edited.close();
  t.not(describedPages(s.cache), before, 'the kept image is the new one');
  t.notOk(keptFiles(s.cache).includes(before!), 'the stale pages went');

  // A deploy: `current` now names the other release (same file names, same times).
  unlinkSync(join(s.docroot, 'current'));
  symlinkSync('rel2', join(s.docroot, 'current'));
  const deployed = await startTestServer(settings(s));
  t.teardown(() => deployed.close());
  const afterDeploy = await state(deployed);
  const stale = firstBoot(deployed)?.stale as { paths: number } | undefined;
  t.ok(stale && stale.paths >= 1, `restored, and paths found resolving elsewhere (${JSON.stringify(stale)})`);
  t.equal(afterDeploy.lib, 'rel2', 'the release `current` names now runs, not the one opcache compiled through it');
  t.equal(afterDeploy.libCached, true, 'opcache works on after being emptied');
});

t.test('a file gone since the image was taken makes one new image, not a new one at every start', async (t) => {
  const s = site(t);
  await firstRun(t, s);
  unlinkSync(join(s.docroot, 'extra.php'));
  const once = await startTestServer(settings(s));
  t.teardown(() => once.close());
  await state(once);
  t.match(firstBoot(once), { stale: { paths: 0, scripts: 1 } }, 'the gone file found');
  await until('the new image', () => logged(once, 'took a warm memory image for new workers').length === 1);
  await once.close();
  const again = await startTestServer(settings(s));
  t.teardown(() => again.close());
  await state(again);
  t.same(firstBoot(again)?.stale, { paths: 0, scripts: 0 }, 'the next start finds its image up to date');
});

t.test('a worker reset in place to the kept image sees what changed since that image was taken', async (t) => {
  const s = site(t);
  await firstRun(t, s);
  const server = await startTestServer(settings(s, { maxRequests: 2, workerResets: 5 }));
  t.teardown(() => server.close());
  t.equal((await state(server)).lib, 'rel1');
  t.same(firstBoot(server)?.stale, { paths: 0, scripts: 0 }, 'started from the kept image, nothing changed');
  // A deploy while it runs: the running PHP may resolve `current` as before for a while, as any PHP would.
  unlinkSync(join(s.docroot, 'current'));
  symlinkSync('rel2', join(s.docroot, 'current'));
  const resets = () => logged(server, 'php worker recycled in place from the warm image');
  await until('a reset in place', async () => {
    await state(server);
    return resets().length >= 1;
  });
  const stale = resets()[0]?.stale as { paths: number } | undefined;
  t.ok(stale && stale.paths >= 1, `the reset's refresh found paths resolving elsewhere (${JSON.stringify(stale)})`);
  const first = await state(server);
  const second = await state(server);
  t.same([first.lib, second.lib], ['rel2', 'rel2'], 'after the reset, the release `current` names now runs');
  t.equal(second.libCached, true, 'from a working opcache (emptied, then filled by the request before)');
});

t.test('a damaged image is not started from: the worker starts up itself, and a new image is kept', async (t) => {
  const s = site(t);
  await firstRun(t, s);
  const pages = keptFiles(s.cache).find((name) => name.endsWith('.pages'))!;
  const path = join(imageFolder(s.cache), pages);
  const bytes = readFileSync(path);
  bytes[Math.floor(bytes.length / 2)] ^= 0xff;
  writeFileSync(path, bytes);

  const server = await startTestServer(settings(s));
  t.teardown(() => server.close());
  const after = await state(server);
  t.equal(after.lib, 'rel1');
  t.match(firstBoot(server), { fromImage: false }, 'the first worker did not take the damaged image');
  t.ok(logged(server, 'the warm image kept from the last run is dropped; the next worker warms up itself and writes a new one').some((line) => /hash/.test(String(line.reason))), 'dropped for its hash');
  t.notOk(existsSync(path), 'the damaged pages are gone');
  await until('a new kept image', () => keptFiles(s.cache).some((name) => name.endsWith('.pages') && name !== pages));
  t.equal(warmups(s.counts), 2, 'the restart warmed up itself');
});

t.test('other settings, or a folder others may write: the kept image is not started from', async (t) => {
  const s = site(t);
  await firstRun(t, s);

  const otherIni = await startTestServer(settings(s, { ini: { 'short_open_tag': '1' } }));
  const otherState = await state(otherIni).finally(() => otherIni.close());
  t.equal(otherState.lib, 'rel1');
  t.equal(logged(otherIni, ADOPTED).length, 0, 'another php.ini: not taken');
  t.match(firstBoot(otherIni), { fromImage: false });

  const descriptions = () => keptFiles(s.cache).filter((name) => name.endsWith('.json'));
  t.equal(descriptions().length, 2, 'each settings keep an image of their own');

  chmodSync(imageFolder(s.cache), 0o770);
  const untrusted = await startTestServer(settings(s));
  t.teardown(() => untrusted.close());
  t.equal((await state(untrusted)).lib, 'rel1');
  t.equal(logged(untrusted, ADOPTED).length, 0, 'a folder others may write: not taken');
  await until('the server to say it cannot keep the image', () => logged(untrusted, 'the warm image cannot be kept for the next start; each start warms up its first worker itself').length === 1);
});

t.test('code changed by PHP drops the kept image; with opcache not revalidating nothing is kept', async (t) => {
  const s = site(t);
  const server = await startTestServer(settings(s));
  t.teardown(() => server.close());
  await until('the kept image', () => keptFiles(s.cache).some((name) => name.endsWith('.json')));
  const keptPages = keptFiles(s.cache).find((name) => name.endsWith('.pages'))!;
  t.equal(await (await fetch(`${server.url}/rewrite.php`)).text(), 'done');
  await until('the kept image to go', () => !keptFiles(s.cache).includes(keptPages));
  t.equal((await state(server)).lib, 'rewritten');
  await server.close();

  const s2 = site(t);
  const noValidate = await startTestServer(settings(s2, { opcacheValidate: false }));
  t.teardown(() => noValidate.close());
  await until('the warm image', () => logged(noValidate, 'took a warm memory image for new workers').length === 1);
  t.same(keptFiles(s2.cache), [], 'no image kept');
});
