/**
 * The server's temp folders carry its process id, and a start removes those of servers whose
 * process is gone (server-temp-dirs.ts), never a live server's or this process's own.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import t from 'tap';
import { makeServerTempDir, sweepDeadServerTempDirs } from '../server/server-temp-dirs.js';
import { tempDir } from './helpers/server.js';

/** The id of a process that has ended (a short-lived child). */
async function endedPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

t.test("a start removes a dead server's folders, and only those", async (t) => {
  const root = tempDir(t);
  const dead = await endedPid();
  const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  t.teardown(() => live.kill());
  const folder = (kind: string, pid: number, suffix: string) => {
    const path = join(root, `php-wasm-server-${kind}-${pid}-${suffix}`);
    mkdirSync(path);
    writeFileSync(join(path, 'image-1'), 'pages');
    return path;
  };
  const deadImage = folder('image', dead, 'Ab3xYz');
  const deadBodies = folder('bodies', dead, 'Qw9rTy');
  const liveImage = folder('image', live.pid!, 'Zx8cVb');
  const ours = makeServerTempDir('image', root);
  const otherName = join(root, `php-wasm-server-cache-${dead}-Ab3xYz`);
  mkdirSync(otherName);
  writeFileSync(join(root, `php-wasm-server-image-${dead}-Fi1eXx`), 'a file, not a folder');

  t.same(sweepDeadServerTempDirs(root).sort(), [deadBodies, deadImage].sort(), "the dead server's folders, whatever they hold");
  t.notOk(existsSync(deadImage), 'gone from the disk');
  t.ok(existsSync(liveImage), "a live process's folder stays");
  t.ok(existsSync(ours), "this process's own stays (several servers may run in one process)");
  t.ok(existsSync(otherName), 'a name of another pattern stays');
  t.equal(readdirSync(root).length, 4, 'and nothing else went');
  t.same(sweepDeadServerTempDirs(join(root, 'missing')), [], 'no folder to look in: nothing to do');
});

t.test("the server's folders are private and name this process", async (t) => {
  const root = tempDir(t);
  const path = makeServerTempDir('bodies', root);
  t.match(basename(path), new RegExp(`^php-wasm-server-bodies-${process.pid}-[A-Za-z0-9]{6}$`));
  t.equal(statSync(path).mode & 0o777, 0o700, 'only its owner may enter');
});
