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
