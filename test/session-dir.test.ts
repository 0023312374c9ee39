/**
 * Session files hold logins: two servers with default settings must not share them, and a folder
 * planted in advance (a symlink, another user's folder) must not be used.
 */
import { chownSync, existsSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError } from '../server/config/coerce.js';
import { prepareSessionDir } from '../server/config/session-dir.js';
import { startTestServer, tempDir, type TestServer } from './helpers/server.js';

async function session(server: TestServer, cookie?: string): Promise<{ count: number; id: string; cookie: string }> {
  const response = await fetch(`${server.url}/session.php`, { headers: cookie ? { cookie } : {} });
  const body = await response.json() as { count: number; id: string };
  return { ...body, cookie: cookie ?? response.headers.get('set-cookie')!.split(';')[0] };
}

/** The ConfigError prepareSessionDir throws, or null. */
function refusal(path: string): ConfigError | null {
  try {
    prepareSessionDir(path);
    return null;
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
}

t.test('two servers with the default session folder do not share sessions', async (t) => {
  // sessionDir undefined: what the loader gives without a setting.
  const a = await startTestServer({ workers: 1, sessionDir: undefined });
  t.teardown(() => a.close());
  const b = await startTestServer({ workers: 1, sessionDir: undefined });
  t.teardown(() => b.close());

  const first = await session(a);
  t.equal(first.count, 1);
  t.equal((await session(a, first.cookie)).count, 2, 'server A keeps its session');
  const stolen = await session(b, first.cookie);
  t.equal(stolen.count, 1, "server B does not see server A's session data for the same id");
  t.equal((await session(a, first.cookie)).count, 3, "and B's write did not touch A's session");
});

t.test('a fresh default folder is 0700 and removed when the server stops', async (t) => {
  const dir = prepareSessionDir(undefined);
  t.equal(statSync(dir.path).mode & 0o777, 0o700);
  const other = prepareSessionDir(undefined);
  t.not(other.path, dir.path, 'one folder per server');
  dir.dispose();
  other.dispose();
  t.notOk(existsSync(dir.path));
});

t.test('a configured folder: symlinks and foreign folders are refused, a readable one made private', async (t) => {
  const tmp = tempDir(t);
  const target = join(tmp, 'elsewhere');
  mkdirSync(target);
  symlinkSync(target, join(tmp, 'planted'));
  t.match(refusal(join(tmp, 'planted')), { key: 'sessionDir', message: /symbolic link/ }, 'a symlink is refused');

  writeFileSync(join(tmp, 'file'), '');
  t.match(refusal(join(tmp, 'file')), { key: 'sessionDir', message: /must be a folder/ }, 'a file is refused, not a crash');

  const open = join(tmp, 'open');
  mkdirSync(open, { mode: 0o755 });
  t.equal(prepareSessionDir(open).path, open);
  t.equal(statSync(open).mode & 0o777, 0o700, 'group/world access removed');

  const created = join(tmp, 'new', 'sessions');
  prepareSessionDir(created);
  t.equal(statSync(created).mode & 0o777, 0o700, 'created private');

  if (process.getuid?.() === 0) {
    const foreign = join(tmp, 'foreign');
    mkdirSync(foreign, { mode: 0o700 });
    chownSync(foreign, 65534, 65534);
    t.match(refusal(foreign), { key: 'sessionDir', message: /owned by the server's user/ }, "another user's folder is refused");
  }
});
