/**
 * opcache's file cache: the server's compiler fills it with the site's scripts; workers load them
 * from it instead of compiling, can never write it, and never load a stale one.
 */
import { existsSync, mkdirSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { compiledCopies, prepareOpcacheFileCache } from '../server/opcache-file-cache/cache-folder.js';
import { siteScripts } from '../server/opcache-file-cache/site-scripts.js';
import { MAX_FORGOTTEN, SiteCompiler } from '../server/opcache-file-cache/site-compiler.js';
import { captureLogger } from './helpers/server.js';
import { FIXTURE_DOCROOT, startTestServer, tempDir, type TestServer } from './helpers/server.js';
import { until } from './helpers/until.js';

const compiled = (server: TestServer) => server.logs.find((l) => l.msg === 'opcache file cache: site compiled');
const phpSaid = (server: TestServer, pattern: RegExp) => server.logs.some((l) => pattern.test(String(l.php ?? '')));

/** Every file under dir, relative. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

t.test('siteScripts: regular .php files as guest paths; no symlinks, hidden folders or oversized files; bounded', async (t) => {
  const root = tempDir(t);
  mkdirSync(join(root, 'a', 'b'), { recursive: true });
  mkdirSync(join(root, '.git'));
  writeFileSync(join(root, 'index.php'), '<?php');
  writeFileSync(join(root, 'a', 'b', 'deep.php'), '<?php');
  writeFileSync(join(root, 'a', 'style.css'), '');
  writeFileSync(join(root, '.git', 'hook.php'), '<?php');
  writeFileSync(join(root, 'big.php'), '<?php // ' + 'x'.repeat(2000));
  symlinkSync('/etc/passwd', join(root, 'link.php'));
  symlinkSync(join(root, 'a'), join(root, 'linked-dir'));
  t.same(siteScripts(root, '/docroot', [], { maxScriptBytes: 1000 }), ['/docroot/a/b/deep.php', '/docroot/index.php']);
  t.equal(siteScripts(root, '/docroot', [], { maxScripts: 1, maxScriptBytes: 1000 }).length, 1, 'at most maxScripts');
  t.same(siteScripts(root, '/docroot', ['/docroot/a'], { maxScriptBytes: 1000 }), ['/docroot/index.php'], 'not below a mount point (a mount hides those files)');
  t.equal(siteScripts(root, '/docroot', [], { maxScriptBytes: 1000, maxTotalBytes: 5 }).length, 1, 'the total budget holds one 5-byte file');
});

/** A file written now is too new for opcache to cache (opcache.file_update_protection: 2 s); back-dated, it is not. */
function writeOld(path: string, text: string, secondsAgo: number): void {
  writeFileSync(path, text);
  const at = Date.now() / 1000 - secondsAgo;
  utimesSync(path, at, at);
}

t.test('the folder is refused inside the docroot or a mount, or holding one (PHP could plant compiled code)', async (t) => {
  const docroot = tempDir(t);
  const mount = tempDir(t);
  t.throws(() => prepareOpcacheFileCache(join(docroot, 'wp-content', 'cache'), docroot), /opcacheFileCache.*outside the docroot/);
  t.throws(() => prepareOpcacheFileCache(join(mount, 'opcache'), docroot, [mount]), /opcacheFileCache.*overlaps/);
  t.throws(() => prepareOpcacheFileCache(join(docroot, '..'), docroot), /opcacheFileCache.*hold none/);
  t.notOk(existsSync(join(docroot, 'wp-content')), 'nothing was created');
  const sessions = tempDir(t);
  await t.rejects(startTestServer({ sessionDir: sessions, opcacheFileCache: sessions }), /opcacheFileCache.*overlaps/, 'the server refuses the session folder (PHP writes there)');
});

t.test('a reload that would mount the folder, or a folder above it, where PHP can write is refused as a start is', async (t) => {
  const above = tempDir(t);
  const opcacheFileCache = join(above, 'opcache');
  const server = await startTestServer({ opcacheFileCache, workers: 1 });
  t.teardown(() => server.close());
  const replacing = () => server.logs.filter((line) => line.msg === 'reload: replacing workers one at a time').length;
  for (const host of [above, opcacheFileCache]) {
    const next = { ...server.config, mounts: [{ host, guest: '/mnt/planted', readOnly: false }] };
    await t.rejects(server.reload(next), /opcacheFileCache.*overlaps/, `mounting ${host === above ? 'the folder above' : 'the folder itself'}`);
  }
  t.equal(replacing(), 0, 'no worker was started with it');
  await server.reload({ ...server.config, env: { ...server.config.env, AFTER: 'yes' } });
  t.equal(replacing(), 1, 'a harmless reload after it still applies');
  t.equal((await fetch(`${server.url}/index.php`)).status, 200);
});

t.test('one folder per site: two docroots never share compiled files', async (t) => {
  const root = tempDir(t);
  const [a, b] = [tempDir(t), tempDir(t)];
  const first = prepareOpcacheFileCache(root, a);
  const second = prepareOpcacheFileCache(root, b);
  t.not(first.path, second.path);
  t.equal(prepareOpcacheFileCache(root, a).path, first.path, 'the same site finds its folder again');
  writeFileSync(join(first.path, 'x'), '');
  first.empty();
  t.same(readdirSync(first.path), [], 'empty() clears it');
});

t.test('the compiler fills the cache after start; a worker loads a script from it instead of compiling; PHP cannot write it', async (t) => {
  const cache = tempDir(t);
  const server = await startTestServer({ opcacheFileCache: cache, ini: { 'opcache.log_verbosity_level': '4' } });
  t.teardown(() => server.close());
  await until('the site to be compiled', () => compiled(server) !== undefined, 120_000);
  const report = compiled(server)!;
  t.ok((report.compiled as number) > 10 && report.failed === 0, `compiled ${report.compiled} of ${report.scripts} scripts`);
  t.ok(filesUnder(cache).some((f) => f.endsWith('/docroot/pid.php.bin')), 'pid.php is in the cache');

  t.equal((await fetch(`${server.url}/pid.php`)).status, 200);
  await until('opcache to log how it got pid.php', () => phpSaid(server, /pid\.php/));
  t.ok(phpSaid(server, /File cached script loaded into memory '\/docroot\/pid\.php'/), 'loaded from the file cache');
  t.notOk(phpSaid(server, /Cached script '\/docroot\/pid\.php'/), 'not compiled by the worker');

  const folder = '/var/cache/php-opcache';
  for (const [op, path] of [['write', `${folder}/planted.php.bin`], ['mkdir', `${folder}/planted`]] as const) {
    const answer = await (await fetch(`${server.url}/fsops.php?op=${op}&path=${encodeURIComponent(path)}`)).json() as { result: unknown };
    t.equal(answer.result, false, `${op} in the cache folder is refused`);
  }
  const existing = filesUnder(cache).find((f) => f.endsWith('/docroot/pid.php.bin'))!;
  const guestPath = `${folder}/${existing.split('/').slice(1).join('/')}`;
  const overwrite = await (await fetch(`${server.url}/fsops.php?op=write&path=${encodeURIComponent(guestPath)}`)).json() as { result: unknown };
  t.equal(overwrite.result, false, 'a compiled file cannot be overwritten');
  t.notOk(filesUnder(cache).some((f) => f.includes('planted')), 'nothing was planted on the host');
});

t.test('with opcache.validate_timestamps off, a restarted server serves the edited script, not the compiled old one', async (t) => {
  const docroot = tempDir(t);
  const cache = tempDir(t);
  const script = join(docroot, 'version.php');
  writeOld(script, "<?php echo 'old';", 100);
  const options = { docroot, opcacheFileCache: cache, opcacheValidate: false };
  const first = await startTestServer(options);
  await until('the site to be compiled', () => compiled(first) !== undefined, 120_000);
  t.ok(filesUnder(cache).some((f) => f.endsWith('/docroot/version.php.bin')), 'the old version was compiled into the cache');
  t.equal(await (await fetch(`${first.url}/version.php`)).text(), 'old');
  await first.close();

  writeOld(script, "<?php echo 'new';", 50);
  const second = await startTestServer(options);
  t.teardown(() => second.close());
  t.equal(await (await fetch(`${second.url}/version.php`)).text(), 'new', 'the edit is served');
});

t.test("a code file PHP changes loses its compiled copy: a worker started afterwards runs the new code, unchecked timestamps or not", async (t) => {
  const docroot = tempDir(t);
  const cache = tempDir(t);
  mkdirSync(join(docroot, 'lib'));
  writeOld(join(docroot, 'lib', 'version.php'), "<?php return 'old';", 100);
  writeOld(join(docroot, 'show.php'), "<?php echo (include __DIR__ . '/lib/version.php'), ' ', getmypid();", 100);
  writeOld(join(docroot, 'edit.php'), `<?php file_put_contents(__DIR__ . '/lib/version.php', "<?php return 'new';");`, 100);
  const server = await startTestServer({ docroot, opcacheFileCache: cache, opcacheValidate: false, workers: 1, maxRequests: 3 });
  t.teardown(() => server.close());
  await until('the site to be compiled', () => compiled(server) !== undefined, 120_000);
  const compiledVersion = () => filesUnder(cache).filter((f) => f.endsWith('/docroot/lib/version.php.bin'));
  t.equal(compiledVersion().length, 1, 'the old version was compiled into the cache');
  const show = async () => (await (await fetch(`${server.url}/show.php`)).text()).split(' ');
  const [before, firstPid] = await show();
  t.equal(before, 'old');
  t.equal((await fetch(`${server.url}/edit.php`)).status, 200);
  t.same(compiledVersion(), [], "the compiled copy is gone once PHP's response is in");
  // The third request makes the worker recycle; its successor loads what the cache holds, unchecked.
  let seen: string[] = [];
  await until('a worker started after the edit to answer', async () => (seen = await show())[1] !== firstPid, 120_000);
  t.equal(seen[0], 'new', 'the successor runs the new code');
});

t.test('forgetting changed paths is bounded: past the limit the folder is emptied once, and nothing more is done until the next compile', async (t) => {
  const { log, logs } = captureLogger();
  const compiler = new SiteCompiler(tempDir(t), tempDir(t), [], log);
  t.teardown(() => compiler.close());
  const compiledFile = (path: string) => join(compiler.path, 'sysid', `${path}.bin`);
  for (const path of ['/docroot/a.php', '/docroot/b.php', '/docroot/plugin/c.php']) {
    mkdirSync(join(compiledFile(path), '..'), { recursive: true });
    writeFileSync(compiledFile(path), 'compiled');
  }
  compiler.forget(['/docroot/a.php', '/docroot/plugin/', '/docroot/missing.php']);
  t.same([existsSync(compiledFile('/docroot/a.php')), existsSync(compiledFile('/docroot/b.php')), existsSync(compiledFile('/docroot/plugin/c.php'))], [false, true, false],
    'the changed file and the changed folder lose their copies; the others stay');
  compiler.forget(Array.from({ length: MAX_FORGOTTEN }, (_, i) => `/docroot/f${i}.php`));
  t.notOk(existsSync(compiledFile('/docroot/b.php')), `past ${MAX_FORGOTTEN} paths the folder is emptied`);
  t.ok(logs.some((l) => /emptied until the next compile/.test(String(l.msg))), 'and the log says so');
  mkdirSync(join(compiledFile('/docroot/b.php'), '..'), { recursive: true });
  writeFileSync(compiledFile('/docroot/b.php'), 'compiled');
  compiler.forget(['/docroot/b.php']);
  t.ok(existsSync(compiledFile('/docroot/b.php')), 'afterwards nothing is deleted one by one until the next compile');
});

t.test('compiled copies of a guest path: the file and the folder under each system id; nothing for a path that could leave the folder', async (t) => {
  t.same(compiledCopies('/cache/site', ['abc', 'def'], '/docroot/lib/a.php'), [
    '/cache/site/abc/docroot/lib/a.php.bin', '/cache/site/abc/docroot/lib/a.php',
    '/cache/site/def/docroot/lib/a.php.bin', '/cache/site/def/docroot/lib/a.php',
  ]);
  t.same(compiledCopies('/cache/site', ['abc'], '/docroot/plugin/'), ['/cache/site/abc/docroot/plugin.bin', '/cache/site/abc/docroot/plugin'], 'a folder');
  for (const path of ['/', '', 'docroot/a.php', '/docroot/../../etc', '/docroot/../', '/docroot/./a.php', '/docroot//a.php', '/docroot/a\0.php', '//']) {
    t.same(compiledCopies('/cache/site', ['abc'], path), [], `nothing for ${JSON.stringify(path)}`);
  }
});

t.test('a server without a configured folder compiles into a fresh one and removes it when it closes', async (t) => {
  const server = await startTestServer({ docroot: FIXTURE_DOCROOT });
  t.equal(server.config.opcacheFileCache, undefined, 'none configured');
  await until('the site to be compiled', () => compiled(server) !== undefined, 120_000);
  const folder = String(compiled(server)!.folder);
  t.ok(filesUnder(folder).length > 10, `compiled into ${folder}`);
  await server.close();
  t.notOk(existsSync(folder), 'its folder is gone');
});

t.test('files compiled under other php.ini settings are never loaded: the folder is emptied first', async (t) => {
  const docroot = tempDir(t);
  const cache = tempDir(t);
  writeOld(join(docroot, 'short.php'), "<? echo 'short tag ran';", 100);
  const first = await startTestServer({ docroot, opcacheFileCache: cache, ini: { short_open_tag: '1' } });
  await until('the site to be compiled', () => compiled(first) !== undefined, 120_000);
  t.equal(await (await fetch(`${first.url}/short.php`)).text(), 'short tag ran');
  await first.close();
  const second = await startTestServer({ docroot, opcacheFileCache: cache, ini: { short_open_tag: '0' } });
  t.teardown(() => second.close());
  t.equal(await (await fetch(`${second.url}/short.php`)).text(), "<? echo 'short tag ran';", 'compiled as the new setting says');
});

t.test('a file that stops PHP while compiling is counted as failed; the others are compiled', async (t) => {
  const docroot = tempDir(t);
  const cache = tempDir(t);
  for (let i = 0; i < 5; i++) writeOld(join(docroot, `good-${i}.php`), `<?php return ${i};`, 100);
  writeOld(join(docroot, 'fatal.php'), '<?php function twice() {} function twice() {}', 100);
  const server = await startTestServer({ docroot, opcacheFileCache: cache });
  t.teardown(() => server.close());
  await until('the site to be compiled', () => compiled(server) !== undefined, 120_000);
  const report = compiled(server)!;
  t.equal(report.failed, 1, 'fatal.php failed');
  t.equal(report.compiled, 5, 'every good file was compiled');
  t.equal(filesUnder(cache).filter((f) => /good-\d\.php\.bin$/.test(f)).length, 5);
});

t.test('a restart with nothing changed does not boot the compiler; a changed file makes it compile again', async (t) => {
  const docroot = tempDir(t);
  const cache = tempDir(t);
  for (let i = 0; i < 3; i++) writeOld(join(docroot, `page-${i}.php`), `<?php echo ${i};`, 100);
  const reportOf = async () => {
    const server = await startTestServer({ docroot, opcacheFileCache: cache, workers: 1 });
    await until('the site to be compiled', () => compiled(server) !== undefined, 120_000);
    await server.close();
    return compiled(server)!;
  };
  t.match(await reportOf(), { scripts: 3, compiled: 3, upToDate: false }, 'first start: compiled');
  t.match(await reportOf(), { scripts: 3, compiled: 0, upToDate: true }, 'restart: every compiled file is newer than its source');
  // The edit is newer than the compiled files whatever the machine's speed: they are back-dated.
  for (const file of filesUnder(cache).filter((f) => f.endsWith('.bin'))) utimesSync(join(cache, file), Date.now() / 1000 - 60, Date.now() / 1000 - 60);
  writeOld(join(docroot, 'page-1.php'), '<?php echo "changed";', 5);
  t.match(await reportOf(), { scripts: 3, upToDate: false }, 'a file changed since: compiled again');
});
