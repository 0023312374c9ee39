/**
 * Each worker's opcache is its own. When PHP in one worker rewrites a code file (the theme editor,
 * a plugin update, a template cache), the other workers drop their compiled copy before their next
 * request, so a loopback request made right after the write runs the new code
 * (server/pool/code-writes.ts, stale-code.ts). opcache.revalidate_freq is 60 here so that no
 * worker rechecks a file's time by itself while a test runs (with the default 2 s the stale window
 * is shorter, not gone), and file_update_protection 0 so that opcache keeps a file written less
 * than 2 s ago (by default it compiles such a file afresh each time, which would hide the stale copy).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { FileLockManagerInMemory } from '@php-wasm/universal';
import { CODE_CHANGE_DELAY_MS, CodeChangeBatch, isCodeFile } from '../server/pool/code-writes.js';
import { INVALIDATE_CODE_PATH, INVALIDATE_CODE_SCRIPT, MAX_STALE_BYTES, MAX_STALE_PATHS, StaleCode } from '../server/pool/stale-code.js';
import type { PHP } from '@php-wasm/universal';
import { runtimeOf } from '../server/php-wasm/internals.js';
import { bootPhp } from '../server/pool/php-instance.js';
import { compilePhpModule } from '../server/pool/wasm-module.js';
import { projectRoot } from '../server/paths.js';
import { startTestServer, tempDir } from './helpers/server.js';

const NO_REVALIDATION = { 'opcache.revalidate_freq': '60', 'opcache.file_update_protection': '0' };
const version = (name: string) => `<?php return '${name}';\n`;

t.test('code files by name', async (t) => {
  for (const path of ['/docroot/a.php', '/docroot/A.PHP', '/docroot/x.phtml', '/docroot/old.php5', '/docroot/lib.inc', '/docroot/core/x.module', '/docroot/t.theme']) {
    t.ok(isCodeFile(path), `${path} may be compiled`);
  }
  for (const path of ['/docroot/wp-content/database/.ht.sqlite', '/docroot/a.php.bak', '/docroot/style.css', '/docroot/php', '/docroot/cache.json', '/docroot/x.php9']) {
    t.notOk(isCodeFile(path), `${path} is not`);
  }
});

t.test("a worker's changes go to the pool in batches: each path once, at most the batch size per message", async (t) => {
  const sent: string[][] = [];
  const batch = new CodeChangeBatch((paths) => sent.push(paths), 3);
  batch.flush();
  t.same(sent, [], 'nothing changed: nothing sent');
  batch.note('/docroot/a.php');
  batch.note('/docroot/a.php');
  batch.note('/docroot/b.php');
  t.same(sent, [], 'kept until a flush or a full batch');
  batch.note('/docroot/c.php');
  t.same(sent, [['/docroot/a.php', '/docroot/b.php', '/docroot/c.php']], 'a full batch goes at once');
  batch.note('/docroot/a.php');
  batch.flush();
  batch.flush();
  t.same(sent.at(-1), ['/docroot/a.php'], 'a path written again after it was sent is sent again (the revert after a failed check)');
  t.equal(sent.length, 2);

  let now = 0;
  const timed = new CodeChangeBatch((paths) => sent.push(paths), 100, () => now);
  timed.note('/docroot/x.php');
  now = CODE_CHANGE_DELAY_MS - 1;
  timed.note('/docroot/y.php');
  t.equal(sent.length, 2, 'kept while its first change is younger than the delay');
  now = CODE_CHANGE_DELAY_MS;
  timed.note('/docroot/z.php');
  t.same(sent.at(-1), ['/docroot/x.php', '/docroot/y.php', '/docroot/z.php'], `sent once its first change is ${CODE_CHANGE_DELAY_MS} ms old (a worker ended mid-request loses no more)`);
});

t.test('what a worker keeps to drop: each path once, and the whole opcache past the bound', async (t) => {
  const stale = new StaleCode();
  t.equal(stale.take(), undefined, 'nothing changed: no run');
  stale.add(['/docroot/a.php']);
  stale.add(['/docroot/a.php', '/docroot/plugins/x']);
  t.same(JSON.parse(stale.take()!), ['/docroot/a.php', '/docroot/plugins/x']);
  t.equal(stale.take(), undefined, 'taken once');
  stale.add(Array.from({ length: MAX_STALE_PATHS + 1 }, (_, i) => `/docroot/f${i}.php`));
  stale.add(['/docroot/later.php']);
  t.equal(JSON.parse(stale.take()!), 'all', `more than ${MAX_STALE_PATHS} paths: the whole opcache`);
  t.equal(stale.take(), undefined);
  stale.add([`/docroot/${'x'.repeat(4000)}.php`]);
  t.type(JSON.parse(stale.take()!), Array, 'a long path is kept as it is');
  stale.add(Array.from({ length: 70 }, (_, i) => `/docroot/${i}${'x'.repeat(4000)}.php`));
  t.equal(JSON.parse(stale.take()!), 'all', `more than ${MAX_STALE_BYTES} bytes of paths: the whole opcache`);
});

t.test('a failed invalidation run makes the next one empty the whole opcache, once', async (t) => {
  const bodies: string[] = [];
  let result: 'throw' | number = 1;
  const php = {
    run: async ({ body }: { body: Uint8Array }) => {
      bodies.push(new TextDecoder().decode(body));
      if (result === 'throw') throw new Error('crashed');
      return { exitCode: result };
    },
  } as unknown as PHP;
  const stale = new StaleCode();
  stale.add(['/docroot/a.php']);
  await t.rejects(stale.invalidateIn(php), /exited with 1/);
  result = 'throw';
  await t.rejects(stale.invalidateIn(php), /crashed/, 'the next request tries again, with everything');
  await stale.invalidateIn(php);
  t.same(bodies, ['["/docroot/a.php"]', '"all"'], 'a failing "all" is not retried');
  result = 0;
  stale.add(['/docroot/b.php']);
  await stale.invalidateIn(php);
  t.same(bodies.at(-1), '["/docroot/b.php"]');
});

t.test('one instance: the code files PHP writes or moves into place are reported, and dropped on request', async (t) => {
  const docroot = tempDir(t, 'pws-code-');
  mkdirSync(join(docroot, 'lib'));
  writeFileSync(join(docroot, 'lib', 'version.php'), version('v1'));
  writeFileSync(join(docroot, 'lib', 'extra.php'), '<?php return 1;');
  writeFileSync(join(docroot, 'show.php'), `<?php include_once __DIR__ . '/lib/extra.php'; echo include __DIR__ . '/lib/version.php';`);
  writeFileSync(join(docroot, 'cached.php'), `<?php echo opcache_is_script_cached(file_get_contents('php://input')) ? 'yes' : 'no';`);
  writeFileSync(join(docroot, 'write.php'), `<?php
file_put_contents(__DIR__ . '/notes.txt', 'not code');
file_put_contents('/tmp/private.php', '<?php // this worker only');
$h = fopen(__DIR__ . '/show.php', 'r'); fclose($h); // read, not written
mkdir(__DIR__ . '/lib.new');
file_put_contents(__DIR__ . '/lib.new/version.php', ${JSON.stringify(version('v3'))});
rename(__DIR__ . '/lib', __DIR__ . '/lib.old');
rename(__DIR__ . '/lib.new', __DIR__ . '/lib');
file_put_contents(__DIR__ . '/template.tmp', '<?php');
rename(__DIR__ . '/template.tmp', __DIR__ . '/template.php');`);
  const reported: string[] = [];
  const { php } = await bootPhp({
    processId: 4243, phpVersion: '8.3', wasmModule: await compilePhpModule('8.3'), docroot, mounts: [], env: {},
    phpIni: `${readFileSync(join(projectRoot, 'config', 'php.ini'), 'utf8')}\n${Object.entries(NO_REVALIDATION).map(([key, value]) => `${key} = ${value}`).join('\n')}\n`,
    files: { [INVALIDATE_CODE_PATH]: INVALIDATE_CODE_SCRIPT },
    allowNetwork: [], connectTo: {}, tmpSize: 1 << 20, memoryCeiling: null,
  } as unknown as Parameters<typeof bootPhp>[0], { fileLockManager: new FileLockManagerInMemory(), onCodeWritten: (path) => reported.push(path) });
  t.teardown(() => runtimeOf(php).outboundNetworkProxyServer.close());
  const show = async () => (await php.run({ scriptPath: '/docroot/show.php' })).text;
  const cached = async (path: string) => (await php.run({ scriptPath: '/docroot/cached.php', body: new TextEncoder().encode(path), method: 'POST' })).text;

  t.equal(await show(), 'v1', 'compiled v1');
  t.equal(await cached('/docroot/lib/extra.php'), 'yes');
  await php.run({ scriptPath: '/docroot/write.php' });
  t.same(reported, ['/docroot/lib.new/version.php', '/docroot/lib.old/', '/docroot/lib/', '/docroot/template.php'],
    'the written code file and the folders and code file moved into place; not the text file, the private /tmp file or the file only read');

  t.equal(await show(), 'v1', 'the instance still runs its compiled v1 (no revalidation for 60 s)');
  const stale = new StaleCode();
  stale.add(['/docroot/lib/']);
  await stale.invalidateIn(php);
  t.equal(await show(), 'v3', 'a changed folder drops what was compiled from under it');
  t.equal(await cached('/docroot/lib/extra.php'), 'no', 'a file the new folder no longer has cannot be dropped by name: the whole opcache was emptied');

  writeFileSync(join(docroot, 'lib', 'version.php'), version('v4'));
  t.equal(await show(), 'v3', 'rewritten by the host: still the compiled v3');
  stale.add(Array.from({ length: MAX_STALE_PATHS + 1 }, (_, i) => `/docroot/f${i}.php`));
  await stale.invalidateIn(php);
  t.equal(await show(), 'v4', 'past the bound the whole opcache is emptied');
});

t.test('two workers: a loopback request made right after PHP rewrites code runs the new code', async (t) => {
  const docroot = tempDir(t, 'pws-code-');
  mkdirSync(join(docroot, 'lib'));
  writeFileSync(join(docroot, 'lib', 'version.php'), version('v1'));
  const self = `function self_get($path) { return file_get_contents('http://127.0.0.1:' . $_SERVER['SERVER_PORT'] . $path); }`;
  writeFileSync(join(docroot, 'show.php'), `<?php echo include __DIR__ . '/lib/version.php';`);
  // The loopback cannot run on the worker making it: it runs on the other one.
  writeFileSync(join(docroot, 'both.php'), `<?php ${self} echo (include __DIR__ . '/lib/version.php'), ' ', self_get('/show.php');`);
  writeFileSync(join(docroot, 'edit.php'), `<?php ${self}
file_put_contents(__DIR__ . '/lib/version.php', "<?php return 'v2';\\n");
echo self_get('/show.php');`);
  writeFileSync(join(docroot, 'update.php'), `<?php ${self}
mkdir(__DIR__ . '/lib.new');
file_put_contents(__DIR__ . '/lib.new/version.php', "<?php return 'v3';\\n");
rename(__DIR__ . '/lib', __DIR__ . '/lib.old');
rename(__DIR__ . '/lib.new', __DIR__ . '/lib');
echo self_get('/show.php');`);
  // Two requests on one kept-alive connection, the code rewritten between them: no new connection.
  writeFileSync(join(docroot, 'kept-alive.php'), `<?php
function ask($s, $path) {
  fwrite($s, "GET $path HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n");
  $head = '';
  while (substr($head, -4) !== "\\r\\n\\r\\n") $head .= fread($s, 1);
  if (preg_match('/content-length: *(\\d+)/i', $head, $m)) return $m[1] === '0' ? '' : fread($s, (int) $m[1]);
  $body = '';
  while (($size = hexdec(trim(fgets($s)))) > 0) { $body .= fread($s, $size); fgets($s); }
  fgets($s);
  return $body;
}
$s = fsockopen('127.0.0.1', (int) $_SERVER['SERVER_PORT']);
echo ask($s, '/show.php');
file_put_contents(__DIR__ . '/lib/version.php', "<?php return 'v4';\\n");
echo ' ', ask($s, '/show.php');`);
  const server = await startTestServer({ docroot, workers: 2, ini: NO_REVALIDATION });
  t.teardown(() => server.close());
  const get = async (path: string) => {
    const response = await fetch(`http://127.0.0.1:${server.port}${path}`);
    return `${response.status} ${await response.text()}`;
  };

  t.equal(await get('/both.php'), '200 v1 v1', 'both workers have compiled v1');
  t.equal(await get('/edit.php'), '200 v2', 'the loopback after a rewrite runs v2 on the other worker');
  t.equal(await get('/both.php'), '200 v2 v2', 'and both run v2 afterwards');
  t.equal(await get('/update.php'), '200 v3', 'the loopback after a folder is moved into place runs what is in it');
  t.equal(await get('/both.php'), '200 v3 v3');
  t.equal(await get('/kept-alive.php'), '200 v3 v4', 'a second request on a kept-alive connection, after a rewrite, runs the new code');
  t.same(server.logs.filter((entry) => (entry.level as number) >= 40).map((entry) => entry.msg), [], 'no warnings');
});
