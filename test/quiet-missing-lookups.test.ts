/**
 * NODEFS looks up a missing name without Node throwing (server/php-wasm/quiet-missing-lookups.ts):
 * the answer is Emscripten's own (the same mode or the same errno) for every kind of path, PHP sees
 * the same results, a file that appears later is found (nothing is remembered as missing), and no
 * lookup of a missing file makes `fs.lstatSync` throw.
 */
import fs, { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { createNodeFsMountHandler, loadNodeRuntime } from '@php-wasm/node';
import { PHP } from '@php-wasm/universal';
import t, { type Test } from 'tap';
import { quietMissingLookups } from '../server/php-wasm/quiet-missing-lookups.js';
import { freshHostLookups } from '../server/sandbox/fresh-host-lookups.js';
import { runtimeOf } from '../server/php-wasm/internals.js';
import { tempDir } from './helpers/server.js';

type GetMode = (path: string) => number;

async function bootWithHostFolder(t: Test, host: string): Promise<PHP> {
  const php = new PHP(await loadNodeRuntime('8.5', { emscriptenOptions: { processId: 9003 } as Record<string, unknown> }));
  t.teardown(() => php.exit());
  await php.mount('/host', createNodeFsMountHandler(host));
  return php;
}

/** Counts the calls to fs.lstatSync that throw (Emscripten's `fs` and ESM imports both see the wrapper). */
function countThrowingLstats(t: Test): { throws: () => number } {
  const table = fs as unknown as Record<string, unknown>;
  const original = table.lstatSync as (...args: unknown[]) => unknown;
  let throws = 0;
  table.lstatSync = function countedLstat(this: unknown, ...args: unknown[]) {
    try {
      return original.apply(this, args);
    } catch (error) {
      throws++;
      throw error;
    }
  };
  syncBuiltinESMExports();
  t.teardown(() => {
    table.lstatSync = original;
    syncBuiltinESMExports();
  });
  return { throws: () => throws };
}

t.test('the quiet lookup answers as Emscripten does: the same mode or the same errno', async (t) => {
  const host = tempDir(t, 'pws-quiet-');
  mkdirSync(join(host, 'dir'));
  writeFileSync(join(host, 'file.txt'), 'x');
  symlinkSync(join(host, 'nowhere'), join(host, 'dangling'));
  symlinkSync('dir', join(host, 'to-dir'));
  symlinkSync('loop', join(host, 'loop')); // a link to itself: ELOOP below it
  const php = await bootWithHostFolder(t, host);
  const runtime = runtimeOf(php);
  const nodefs = runtime.FS.filesystems.NODEFS;
  const emscriptens = nodefs.getMode as GetMode;
  const emscriptenGetMode = emscriptens.bind(nodefs) as GetMode;
  quietMissingLookups(runtime);
  const quietGetMode = nodefs.getMode as GetMode;
  t.not(quietGetMode, emscriptens, 'installed');

  const answer = (getMode: GetMode, path: string) => {
    try {
      return { mode: getMode(path) };
    } catch (error) {
      return { errno: (error as { errno?: number }).errno, name: (error as { name?: string }).name };
    }
  };
  for (const relative of ['', 'dir', 'file.txt', 'dangling', 'to-dir', 'missing', 'missing/deeper', 'file.txt/under-a-file', 'dangling/x', 'dir/missing', 'loop', 'loop/x']) {
    const path = join(host, relative);
    t.same(answer(quietGetMode, path), answer(emscriptenGetMode, path), relative || '(the folder itself)');
  }
  t.equal(answer(quietGetMode, join(host, 'missing')).errno, 44, 'a missing name is ENOENT');
  t.equal(answer(quietGetMode, join(host, 'file.txt/under-a-file')).errno, 54, 'a name under a file stays ENOTDIR (Node still throws for it)');
  t.equal(answer(quietGetMode, join(host, 'loop/x')).errno, 32, 'a name under a link loop stays ELOOP');
});

t.test('PHP: missing files are looked up without Node throwing, and found once they exist', async (t) => {
  const host = tempDir(t, 'pws-quiet-php-');
  writeFileSync(join(host, 'here.txt'), 'here');
  const php = await bootWithHostFolder(t, host);
  quietMissingLookups(runtimeOf(php));
  const lstats = countThrowingLstats(t);

  const run = async (code: string) => (await php.run({ code: `<?php ${code}` })).text;
  t.equal(await run(`var_dump(file_exists('/host/missing.txt'), is_file('/host/a/b/c.php'), @fopen('/host/missing.txt', 'r'));`), 'bool(false)\nbool(false)\nbool(false)\n', 'missing files are missing');
  t.equal(await run(`echo error_get_last() === null ? 'none' : 'x'; @file_get_contents('/host/missing.txt'); echo ' ', error_get_last()['message'];`), 'none file_get_contents(/host/missing.txt): Failed to open stream: No such file or directory', 'the error is ENOENT');
  t.equal(await run(`var_dump(file_exists('/host/here.txt'));`), 'bool(true)\n', 'a file that is there is found');
  t.equal(lstats.throws(), 0, 'no lookup of a missing file made lstatSync throw');

  writeFileSync(join(host, 'missing.txt'), 'late');
  t.equal(await run(`echo file_get_contents('/host/missing.txt');`), 'late', 'a file created on the host after it was missing is found');
});

t.test("the sandbox's check that a looked-up file is gone from the host does not throw either", async (t) => {
  const host = tempDir(t, 'pws-quiet-gone-');
  writeFileSync(join(host, 'flag.txt'), 'on');
  const php = await bootWithHostFolder(t, host);
  const runtime = runtimeOf(php);
  quietMissingLookups(runtime);
  freshHostLookups(runtime);
  const run = async (code: string) => (await php.run({ code: `<?php ${code}` })).text;
  t.equal(await run(`var_dump(file_exists('/host/flag.txt'));`), 'bool(true)\n', 'looked up once: a node for it now');
  const lstats = countThrowingLstats(t);
  rmSync(join(host, 'flag.txt')); // another process removes it
  t.equal(await run(`var_dump(file_exists('/host/flag.txt'));`), 'bool(false)\n', 'seen as gone');
  t.equal(lstats.throws(), 0, 'neither the gone check nor the lookup after it made lstatSync throw');
});

t.test('without the quiet lookup, the same missing files make lstatSync throw (what the test above guards)', async (t) => {
  const host = tempDir(t, 'pws-quiet-control-');
  const php = await bootWithHostFolder(t, host);
  const lstats = countThrowingLstats(t);
  await php.run({ code: `<?php file_exists('/host/missing.txt');` });
  t.ok(lstats.throws() > 0, `Emscripten's own lookup threw ${lstats.throws()} time(s)`);
});
