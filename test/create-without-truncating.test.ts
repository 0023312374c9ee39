/**
 * Two workers that create one host file at once: the second's create must not empty what the first
 * wrote (server/sandbox/create-without-truncating.ts). The race itself is microseconds wide, so the
 * test drives the step it ends in directly: NODEFS's mknod for a name the worker's lookup missed,
 * while the host already has the file — on the real php.wasm runtime.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNodeFsMountHandler, loadNodeRuntime } from '@php-wasm/node';
import { PHP } from '@php-wasm/universal';
import t from 'tap';
import { runtimeOf } from '../server/php-wasm/internals.js';
import { createWithoutTruncating } from '../server/sandbox/create-without-truncating.js';
import { tempDir } from './helpers/server.js';

const REGULAR_FILE = 0o100644;

async function phpWithHostFolder(host: string, processId: number): Promise<PHP> {
  const php = new PHP(await loadNodeRuntime('8.3', { emscriptenOptions: { processId } }));
  await php.mount('/data', createNodeFsMountHandler(host));
  return php;
}

/** What another worker's create does after its own lookup found nothing. */
function createAsLateWorker(php: PHP, name: string): void {
  const { FS } = runtimeOf(php);
  FS.filesystems.NODEFS.node_ops.mknod(FS.lookupPath('/data').node, name, REGULAR_FILE, 0);
}

t.test('a create that lost the race leaves the file the other worker wrote', async (t) => {
  const host = tempDir(t, 'pws-create-');
  const php = await phpWithHostFolder(host, 9101);
  t.teardown(() => { runtimeOf(php).outboundNetworkProxyServer.close(); php.exit(); });

  writeFileSync(join(host, 'unpatched.db'), 'written by the first worker');
  createAsLateWorker(php, 'unpatched.db');
  t.equal(readFileSync(join(host, 'unpatched.db'), 'utf8'), '',
    "php.wasm's own create truncates (if this fails, upstream fixed it and the patch may go)");

  createWithoutTruncating(runtimeOf(php));
  writeFileSync(join(host, 'shared.db'), 'written by the first worker');
  createAsLateWorker(php, 'shared.db');
  t.equal(readFileSync(join(host, 'shared.db'), 'utf8'), 'written by the first worker', 'the patched create keeps it');

  createAsLateWorker(php, 'new.db');
  t.equal(readFileSync(join(host, 'new.db'), 'utf8'), '', 'a missing file is still created');
  php.writeFile('/data/through-php.txt', 'hello');
  t.equal(readFileSync(join(host, 'through-php.txt'), 'utf8'), 'hello', 'files PHP writes land on the host as before');
});

/**
 * The other half of the race: this worker's lookup missed the file, another worker created it, then
 * this worker's create found it there (EEXIST). Driven by wrapping the create (FS.mknod, which open
 * calls only after its lookup missed): the first time it is asked for `name`, the host file appears
 * just before it runs, as another worker would make it.
 */
function raceOnCreate(php: PHP, host: string, name: string, content: string): void {
  const { FS } = runtimeOf(php);
  const mknod = FS.mknod.bind(FS);
  let raced = false;
  FS.mknod = (path: string, mode: number, dev: number) => {
    if (!raced && path.endsWith(`/${name}`)) {
      raced = true;
      writeFileSync(join(host, name), content);
    }
    return mknod(path, mode, dev);
  };
}

const OPEN_FOR_WRITING = `<?php
$f = @fopen('/data/' . $_GET['name'], 'c+');
if ($f === false) { echo 'open failed: ', error_get_last()['message'] ?? ''; return; }
fseek($f, 0, SEEK_END);
echo fwrite($f, ' + this worker') === false ? 'write failed' : 'written';`;

const SQLITE_INSERT = `<?php
try {
  $db = new PDO('sqlite:/data/raced.sqlite', null, null, [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
  $db->exec('CREATE TABLE IF NOT EXISTS t (n INTEGER)');
  $db->exec('INSERT INTO t VALUES (1)');
  echo 'inserted';
} catch (PDOException $e) { echo $e->getMessage(); }`;

t.test('an open with O_CREAT opens the file another worker created after its lookup missed it', async (t) => {
  const host = tempDir(t, 'pws-create-race-');
  const unpatched = await phpWithHostFolder(host, 9102);
  t.teardown(() => { runtimeOf(unpatched).outboundNetworkProxyServer.close(); unpatched.exit(); });
  raceOnCreate(unpatched, host, 'unpatched.txt', 'other worker');
  const before = await unpatched.run({ code: OPEN_FOR_WRITING.replace("$_GET['name']", "'unpatched.txt'") });
  t.match(before.text, /open failed/, "php.wasm's own open fails with EEXIST (if this fails, upstream fixed it)");
  raceOnCreate(unpatched, host, 'unpatched.sqlite', '');
  t.match((await unpatched.run({ code: SQLITE_INSERT.replace('raced.sqlite', 'unpatched.sqlite') })).text, /attempt to write a readonly database/,
    'and SQLite, given that failure, opens the database read-only');

  const php = await phpWithHostFolder(host, 9103);
  t.teardown(() => { runtimeOf(php).outboundNetworkProxyServer.close(); php.exit(); });
  createWithoutTruncating(runtimeOf(php));
  raceOnCreate(php, host, 'shared.txt', 'other worker');
  t.equal((await php.run({ code: OPEN_FOR_WRITING.replace("$_GET['name']", "'shared.txt'") })).text, 'written');
  t.equal(readFileSync(join(host, 'shared.txt'), 'utf8'), 'other worker + this worker', 'one file, both writes');

  // SQLite took the failed open as "read-only": the symptom seen with 8 workers.
  raceOnCreate(php, host, 'raced.sqlite', '');
  t.equal((await php.run({ code: SQLITE_INSERT })).text, 'inserted', 'the database opens read-write');
});
