/**
 * A worker's view of host folders follows the host: a file deleted outside the worker (by the host
 * or another worker) stops existing for file_exists() and frees its name for mkdir(). php.wasm's
 * Emscripten FS kept answering from nodes it had looked up once.
 */
import { existsSync, mkdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { startTestServer, tempDir, type TestServer } from './helpers/server.js';

let server: TestServer;
let data: string;
t.before(async () => {
  data = tempDir(t, 'pws-coherence-');
  server = await startTestServer({ workers: 1, mounts: [{ host: data, guest: '/data', readOnly: false }] });
});
t.teardown(() => server?.close());

async function op(name: string, operation: string): Promise<unknown> {
  const response = await fetch(`${server.url}/host-file.php?op=${operation}&name=${name}`);
  return (await response.json() as { result: unknown }).result;
}

t.test('a file deleted on the host no longer exists for the worker that saw it', async (t) => {
  writeFileSync(join(data, 'flag'), '');
  t.equal(await op('flag', 'exists'), true, 'seen while it exists');
  t.equal(await op('flag', 'readable'), true);
  rmSync(join(data, 'flag'));
  t.equal(await op('flag', 'exists'), false, 'gone after the host deleted it');
  t.equal(await op('flag', 'readable'), false);
  writeFileSync(join(data, 'flag'), '');
  t.equal(await op('flag', 'exists'), true, 'and back when it is created again');
});

t.test('a name freed on the host can be created again (no stale EEXIST)', async (t) => {
  mkdirSync(join(data, 'dir'));
  t.equal(await op('dir', 'exists'), true);
  rmdirSync(join(data, 'dir'));
  t.equal(await op('dir', 'mkdir'), true, 'mkdir succeeds once the host removed the folder');
  t.ok(existsSync(join(data, 'dir')), 'the folder exists on the host');
  t.equal(await op('dir', 'rmdir'), true);
  t.notOk(existsSync(join(data, 'dir')));
});

t.test("a file the worker itself deletes and re-creates behaves as before", async (t) => {
  t.equal(await op('own', 'touch'), true);
  t.equal(await op('own', 'exists'), true);
  t.equal(await op('own', 'unlink'), true);
  t.equal(await op('own', 'exists'), false);
  t.equal(await op('own', 'unlink'), false, 'a second unlink fails');
});
