/**
 * The short walk for FS.lookupPath (server/php-wasm/fast-lookup-path.ts) answers as Emscripten's
 * walk does — the same node, the same path, the same error — on a real php.wasm's file system with
 * host folders, mounts inside mounts, symlinks (in memory and on the host), `.`/`..`, doubled and
 * trailing slashes, and the lookup options; and it answers plain paths without Emscripten's walk.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNodeFsMountHandler, loadNodeRuntime } from '@php-wasm/node';
import { PHP } from '@php-wasm/universal';
import t from 'tap';
import { fastLookupPath, type Lookup, type LookupOptions } from '../server/php-wasm/fast-lookup-path.js';
import { runtimeOf } from '../server/php-wasm/internals.js';
import { tempDir } from './helpers/server.js';

type Answer = ({ path: string; node?: number } | { errno: number }) & { opts: LookupOptions | undefined };

t.test('the short walk answers every lookup as Emscripten does', async (t) => {
  const host = tempDir(t, 'pws-lookup-');
  mkdirSync(join(host, 'dir/sub'), { recursive: true });
  writeFileSync(join(host, 'dir/sub/file.php'), '<?php');
  writeFileSync(join(host, 'top.txt'), 'x');
  writeFileSync(join(host, '.hidden'), 'h');
  mkdirSync(join(host, '...'));
  writeFileSync(join(host, '...', 'f'), 'd');
  symlinkSync('dir/sub', join(host, 'to-sub')); // relative, on the host
  symlinkSync(join(host, 'nowhere'), join(host, 'dangling'));
  const inner = tempDir(t, 'pws-lookup-inner-');
  writeFileSync(join(inner, 'in.txt'), 'y');

  const php = new PHP(await loadNodeRuntime('8.5', { emscriptenOptions: { processId: 9002 } as Record<string, unknown> }));
  t.teardown(() => php.exit());
  const { FS } = runtimeOf(php);
  await php.mount('/host', createNodeFsMountHandler(host));
  php.mkdir('/host/dir/mnt');
  await php.mount('/host/dir/mnt', createNodeFsMountHandler(inner));
  php.mkdir('/mem/a');
  php.writeFile('/mem/a/b.txt', 'z');
  FS.symlink('/host/dir', '/mem/link'); // absolute, in memory
  FS.symlink('a', '/mem/rel');
  FS.symlink('/mem/loop2', '/mem/loop1');
  FS.symlink('/mem/loop1', '/mem/loop2');
  FS.symlink('/host/dir/mnt', '/mem/to-mnt'); // a mount reached through a symlink
  php.mkdir('/mem/locked');
  php.writeFile('/mem/locked/f', 'l');
  FS.chmod('/mem/locked', 0o600); // no search permission: EACCES below it
  php.chdir('/host/dir');

  let emscriptenWalks = 0;
  const emscripten = FS.lookupPath.bind(FS) as (path: string, opts?: LookupOptions) => Lookup;
  FS.lookupPath = (path: string, opts?: LookupOptions) => {
    emscriptenWalks++;
    return emscripten(path, opts);
  };
  // The options as the walk left them are part of the answer (Emscripten's walk defaults one in them).
  const answer = (lookup: (path: string, opts?: LookupOptions) => Lookup, path: string, given: LookupOptions | undefined): Answer => {
    const opts = given === undefined ? undefined : { ...given };
    try {
      const found = lookup(path, opts);
      return 'node' in found ? { path: found.path, node: (found.node as unknown as { id: number }).id, opts } : { path: found.path, opts };
    } catch (error) {
      return { errno: (error as { errno: number }).errno, opts };
    }
  };
  fastLookupPath(runtimeOf(php));
  const fast = FS.lookupPath as (path: string, opts?: LookupOptions) => Lookup;

  const paths = [
    '/', '//', '/host', '/host/', '/host//dir///sub/file.php', '/host/dir/sub/file.php', '/host/top.txt',
    '/host/top.txt/x', '/host/missing', '/host/missing/deeper', '/host/dir/mnt', '/host/dir/mnt/in.txt',
    '/host/dir/mnt/', '/host/to-sub', '/host/to-sub/file.php', '/host/dangling', '/host/dangling/x',
    '/mem/link', '/mem/link/sub/file.php', '/mem/link/mnt/in.txt', '/mem/rel/b.txt', '/mem/rel', '/mem/loop1',
    '/mem/loop1/x', '/host/dir/../top.txt', '/host/./dir/sub', '/host/dir/sub/..', '/..', '/../host/top.txt',
    'sub/file.php', './sub', '../top.txt', 'mnt/in.txt', '', '/host/dir/sub/file.php/', '/host/.hidden', '/host/...',
    '/host/.../f', '/host/.../missing', '/mem/to-mnt', '/mem/to-mnt/in.txt', '/mem/to-mnt/', '/mem/locked', '/mem/locked/f',
    '/mem/locked/missing', 42 as unknown as string, undefined as unknown as string,
  ];
  const options: Array<LookupOptions | undefined> = [
    undefined, {}, { follow: true }, { parent: true }, { follow_mount: false }, { noent_okay: true },
    { parent: true, follow: true }, { follow: true, noent_okay: true }, { parent: true, noent_okay: true },
    { parent: true, follow_mount: false }, { follow: true, follow_mount: false },
  ];
  let compared = 0;
  for (const path of paths) {
    for (const opts of options) {
      // Each walk goes first half the time, so each also meets nodes not looked up yet.
      const fastFirst = compared % 2 === 0;
      const first = answer(fastFirst ? fast : emscripten, path, opts);
      const second = answer(fastFirst ? emscripten : fast, path, opts);
      const [ours, expected] = fastFirst ? [first, second] : [second, first];
      t.same(ours, expected, `${JSON.stringify(path)} ${JSON.stringify(opts ?? null)}`);
      compared++;
    }
  }
  t.ok(compared > 500, `${compared} lookups compared`);

  emscriptenWalks = 0;
  for (const path of ['/host/dir/sub/file.php', '/host/dir/mnt/in.txt', '/host//dir/', '/host/missing', '/mem/a/b.txt']) answer(fast, path, {});
  answer(fast, '/host/dir/sub/file.php', { parent: true });
  t.equal(emscriptenWalks, 0, "plain absolute paths never take Emscripten's walk");
  answer(fast, '/host/dir/../top.txt', {});
  answer(fast, 'sub/file.php', {});
  answer(fast, '/mem/link/sub', {});
  t.equal(emscriptenWalks, 3, "`..`, a relative path and a symlink on the way do");

  t.match(answer(fast, '/mem/locked/f', {}), { errno: 2 }, 'a folder without search permission is refused (EACCES), as before');
});
