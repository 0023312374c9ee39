/**
 * The sandbox over real HTTP with real php.wasm workers: each test tries an escape (host files, host
 * environment, network, subprocesses, writes to read-only mounts) and checks what must still work
 * (mounts, /tmp, sessions and SQLite shared by all workers).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { FIXTURE_DOCROOT, startTestServer, tempDir, type TestServer } from './helpers/server.js';
import { until } from './helpers/until.js';

interface Got {
  status: number;
  headers: Headers;
  body: string;
}

async function get(server: TestServer, path: string, headers: Record<string, string> = {}): Promise<Got> {
  const response = await fetch(server.url + path, { headers, signal: AbortSignal.timeout(30_000) });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/** The JSON a fixture answered, or a test failure that shows what came back instead. */
async function getJson(server: TestServer, path: string, headers: Record<string, string> = {}): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const got = await get(server, path, headers);
  try {
    return JSON.parse(got.body);
  } catch {
    throw new Error(`${path}: not JSON (status ${got.status}): ${JSON.stringify(got.body.slice(0, 300))}`);
  }
}

const query = (params: Record<string, string>) => new URLSearchParams(params).toString();
const sandbox = (server: TestServer, params: Record<string, string>) => getJson(server, `/sandbox.php?${query(params)}`).then((r) => r.result);
const fsop = (server: TestServer, params: Record<string, string>) => getJson(server, `/fsops.php?${query(params)}`) as Promise<{ result: unknown; error: string | null }>;

/** A local HTTP server that counts every TCP connection made to it (PHP must make none). */
async function localTarget(t: Test, body: string): Promise<{ port: number; connections: () => number; requests: () => number }> {
  let connections = 0;
  let requests = 0;
  const server: Server = createServer((_request, response) => {
    requests++;
    response.end(body);
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  const address = server.address();
  return { port: typeof address === 'object' && address ? address.port : 0, connections: () => connections, requests: () => requests };
}

t.test('host files are out of reach: /etc/passwd, a host temp file by its absolute path, symlinks, traversal', async (t) => {
  const outside = tempDir(t, 'pws-outside-');
  writeFileSync(join(outside, 'secret.txt'), 'host secret');
  const data = tempDir(t, 'pws-data-');
  symlinkSync(join(outside, 'secret.txt'), join(data, 'abs-link'));
  symlinkSync(join('..', outside.split('/').pop()!, 'secret.txt'), join(data, 'rel-link'));
  const server = await startTestServer({ workers: 1, mounts: [{ host: data, guest: '/data', readOnly: false }] });
  t.teardown(() => server.close());

  t.equal(await sandbox(server, { what: 'passwd' }), false, '/etc/passwd');
  t.equal(await sandbox(server, { what: 'hostfile', path: join(outside, 'secret.txt') }), false, 'a host temp file by its absolute host path');
  t.equal(await sandbox(server, { what: 'hostfile', path: join(FIXTURE_DOCROOT, 'hello.txt') }), false, 'even a docroot file by its host path (PHP sees it only as /docroot/…)');
  t.equal(await sandbox(server, { what: 'hostfile', path: '/docroot/hello.txt' }), readFileSync(join(FIXTURE_DOCROOT, 'hello.txt'), 'utf8'), 'control: the same file as /docroot/hello.txt');
  t.equal(await sandbox(server, { what: 'hostfile', path: `/docroot/../../../..${outside}/secret.txt` }), false, '../ from the docroot');
  t.equal(await sandbox(server, { what: 'hostfile', path: 'file:///etc/passwd' }), false, 'file:// URL');
  t.equal(await sandbox(server, { what: 'hostfile', path: '/proc/self/environ' }), false, '/proc/self/environ');
  t.equal(await sandbox(server, { what: 'hostfile', path: '/data/abs-link' }), false, 'a symlink in a mount pointing to an absolute host path');
  t.equal(await sandbox(server, { what: 'hostfile', path: '/data/rel-link' }), false, 'a relative symlink climbing out of a mount');
});

t.test('PHP cannot make symlinks in host folders (they would point at the host, not the sandbox)', async (t) => {
  const data = tempDir(t, 'pws-data-');
  const server = await startTestServer({ workers: 1, mounts: [{ host: data, guest: '/data', readOnly: false }] });
  t.teardown(() => server.close());
  for (const link of ['/data/passwd-link', '/docroot/pws-link-attempt']) {
    const result = await getJson(server, `/symlink.php?${query({ target: '/etc/passwd', link })}`);
    t.equal(result.ok, false, `symlink() to ${link} refused`);
  }
  t.same(readdirSync(data), [], 'nothing created on the host');
  t.notOk(existsSync(join(FIXTURE_DOCROOT, 'pws-link-attempt')), 'nor in the docroot');
});

t.test("scandir('/') shows the sandbox's folders only", async (t) => {
  const server = await startTestServer({ workers: 1 });
  t.teardown(() => server.close());
  const root = (await sandbox(server, { what: 'scandir', path: '/' })) as string[];
  t.ok(Array.isArray(root), `listing: ${root.join(' ')}`);
  for (const name of ['docroot', 'tmp', 'internal']) t.ok(root.includes(name), `has /${name}`);
  for (const name of ['etc', 'usr', 'root', 'bin', 'sbin', 'lib', 'boot', 'opt', 'srv', 'mnt', 'sys', 'work']) {
    t.notOk(root.includes(name), `no host /${name}`);
  }
  // Whatever else there is comes from Emscripten's in-memory filesystem, not from the host.
  const allowed = new Set(['.', '..', 'docroot', 'tmp', 'internal', 'dev', 'proc', 'home', 'request', 'var']);
  t.same(root.filter((name) => !allowed.has(name)), [], 'nothing beyond the known sandbox folders');
  t.same((await sandbox(server, { what: 'scandir', path: '/home' })) as string[], ['.', '..', 'web_user'], '/home is Emscripten\'s, not the host\'s');
  const tmp = (await sandbox(server, { what: 'scandir', path: '/tmp' })) as string[];
  t.notOk(tmp.some((name) => name.startsWith('pws-')), "/tmp is the instance's own, not the host's /tmp");
});

t.test('environment: none of the host variables, all of the configured ones', async (t) => {
  const canaryName = 'PWS_SANDBOX_CANARY';
  const canaryValue = `canary-${process.pid}-${Date.now()}`;
  process.env[canaryName] = canaryValue;
  t.teardown(() => { delete process.env[canaryName]; });
  const server = await startTestServer({ workers: 1, env: { APP_MODE: 'sandbox-test', DB_NAME: 'wordpress' } });
  t.teardown(() => server.close());

  const all = await getJson(server, '/env-all.php');
  const text = JSON.stringify(all);
  t.notOk(text.includes(canaryName) || text.includes(canaryValue), 'the host canary is in neither getenv(), $_ENV nor $_SERVER');
  const leaked = Object.entries(process.env).filter(([name, value]) => value && all.getenv[name] === value);
  t.same(leaked, [], 'no host variable appears in getenv() with its host value');
  t.notOk('HOME' in all.getenv || 'USER' in all.getenv || '_' in all.getenv, "Emscripten's defaults (HOME, USER, _) are removed too");
  t.equal(all.getenv.APP_MODE, 'sandbox-test', 'configured APP_MODE is in getenv()');
  t.equal(all.getenv.DB_NAME, 'wordpress', 'configured DB_NAME is in getenv()');
  t.equal(await sandbox(server, { what: 'getenv', name: 'APP_MODE' }), 'sandbox-test', "getenv('APP_MODE')");
  t.equal(await sandbox(server, { what: 'getenv', name: canaryName }), false, "getenv('PWS_SANDBOX_CANARY') is false");
});

t.test('no network by default: HTTP and sockets to a local server never reach it', async (t) => {
  const target = await localTarget(t, 'hello from the host');
  const server = await startTestServer({ workers: 1 });
  t.teardown(() => server.close());

  t.equal(await sandbox(server, { what: 'http', url: `http://127.0.0.1:${target.port}/` }), false, 'file_get_contents(http://127.0.0.1:PORT/) fails');
  const socket = await sandbox(server, { what: 'socket', host: '127.0.0.1', port: String(target.port) });
  t.equal(socket, false, 'fsockopen() fails');
  const refused = await sandbox(server, { what: 'connect', host: '127.0.0.1', port: String(target.port) }) as { connected: boolean; errstr: string };
  t.equal(refused.connected, false, 'as a refused connection: false');
  t.match(refused.errstr, /refused/i, `with "Connection refused" (${refused.errstr})`);
  const byName = await sandbox(server, { what: 'connect', host: 'example.com', port: '443' }) as { connected: boolean; errstr: string };
  t.same([byName.connected, /refused/i.test(byName.errstr)], [false, true], 'a name too, without a lookup');
  t.equal(await sandbox(server, { what: 'http', url: `http://localhost:${target.port}/` }), false, 'nor by name');
  t.equal(target.connections(), 0, 'the local server saw no connection at all');
});

t.test('allowNetwork opens exactly the listed host:port', async (t) => {
  const allowed = await localTarget(t, 'hello from the allowed port');
  const other = await localTarget(t, 'hello from another port');
  const server = await startTestServer({ workers: 1, allowNetwork: [`127.0.0.1:${allowed.port}`] });
  t.teardown(() => server.close());

  t.equal(await sandbox(server, { what: 'http', url: `http://127.0.0.1:${allowed.port}/` }), 'hello from the allowed port', 'HTTP to the listed port works');
  t.match(await sandbox(server, { what: 'socket', host: '127.0.0.1', port: String(allowed.port) }), /hello from the allowed port/, 'fsockopen to the listed port works');
  t.equal(allowed.requests(), 2, 'the allowed server got both requests');
  t.equal(await sandbox(server, { what: 'http', url: `http://127.0.0.1:${other.port}/` }), false, 'another port stays blocked');
  const socket = await sandbox(server, { what: 'socket', host: '127.0.0.1', port: String(other.port) });
  t.equal(socket, false, 'fsockopen to another port fails');
  t.equal(other.connections(), 0, 'the other server saw no connection');
});

t.test("an allowlist entry 'localhost:PORT' lets PHP reach localhost:PORT, and nothing else", async (t) => {
  const allowed = await localTarget(t, 'hello localhost');
  const other = await localTarget(t, 'hello other');
  const server = await startTestServer({ workers: 1, allowNetwork: [`localhost:${allowed.port}`] });
  t.teardown(() => server.close());
  t.equal(await sandbox(server, { what: 'http', url: `http://localhost:${allowed.port}/` }), 'hello localhost', 'by name, as written in the allowlist');
  t.equal(await sandbox(server, { what: 'http', url: `http://localhost:${other.port}/` }), false, 'another port stays blocked');
  t.equal(other.connections(), 0);
});

t.test('no subprocesses: exec, shell_exec, system, passthru, popen, proc_open are unavailable', async (t) => {
  const server = await startTestServer({ workers: 1 });
  t.teardown(() => server.close());
  t.same(await sandbox(server, { what: 'exec' }), {
    exec: false, shell_exec: false, system: false, passthru: false, popen: false, proc_open: false,
  });
});

t.test('mounts: rw is readable and writable, ro is readable only; /tmp is writable', async (t) => {
  const rw = tempDir(t, 'pws-rw-');
  const ro = tempDir(t, 'pws-ro-');
  writeFileSync(join(rw, 'from-host.txt'), 'written by the host');
  writeFileSync(join(rw, 'movable.txt'), 'stays in rw');
  writeFileSync(join(ro, 'file.txt'), 'original');
  mkdirSync(join(ro, 'sub'));
  const server = await startTestServer({
    workers: 1,
    mounts: [{ host: rw, guest: '/data', readOnly: false }, { host: ro, guest: '/ro', readOnly: true }],
  });
  t.teardown(() => server.close());

  t.test('read-write at /data', async (t) => {
    t.equal((await fsop(server, { op: 'read', path: '/data/from-host.txt' })).result, 'written by the host', 'PHP reads a host file');
    t.equal((await fsop(server, { op: 'write', path: '/data/from-php.txt', data: 'written by PHP' })).result, 14, 'PHP writes');
    t.equal(readFileSync(join(rw, 'from-php.txt'), 'utf8'), 'written by PHP', 'the host sees what PHP wrote');
    t.equal((await fsop(server, { op: 'mkdir', path: '/data/made' })).result, true, 'mkdir');
    t.ok(existsSync(join(rw, 'made')), 'the host sees the new folder');
    t.equal((await fsop(server, { op: 'unlink', path: '/data/from-php.txt' })).result, true, 'unlink');
    t.notOk(existsSync(join(rw, 'from-php.txt')), 'the host file is gone');
  });

  t.test('read-only at /ro', async (t) => {
    t.equal((await fsop(server, { op: 'read', path: '/ro/file.txt' })).result, 'original', 'readable');
    t.same((await fsop(server, { op: 'scandir', path: '/ro' })).result, ['.', '..', 'file.txt', 'sub'], 'listable');
    const attempts: Array<[string, Record<string, string>]> = [
      ['overwrite', { op: 'write', path: '/ro/file.txt', data: 'changed' }],
      ['create', { op: 'write', path: '/ro/new.txt' }],
      ['append', { op: 'append', path: '/ro/file.txt', data: 'more' }],
      ['unlink', { op: 'unlink', path: '/ro/file.txt' }],
      ['mkdir', { op: 'mkdir', path: '/ro/newdir' }],
      ['rmdir', { op: 'rmdir', path: '/ro/sub' }],
      ['rename inside', { op: 'rename', path: '/ro/file.txt', to: '/ro/renamed.txt' }],
      ['rename into it', { op: 'rename', path: '/data/movable.txt', to: '/ro/moved.txt' }],
      ['touch', { op: 'touch', path: '/ro/file.txt' }],
      ['chmod', { op: 'chmod', path: '/ro/file.txt' }],
    ];
    for (const [name, params] of attempts) {
      const answer = await fsop(server, params);
      t.equal(answer.result, false, `${name} fails`);
      t.match(answer.error, /Read-only file system/, `${name}: EROFS`);
    }
    // Renaming out of /ro crosses devices, so PHP copies, then tries to unlink: the copy is only a read.
    await fsop(server, { op: 'rename', path: '/ro/file.txt', to: '/tmp/copied.txt' });
    t.same(readdirSync(ro).sort(), ['file.txt', 'sub'], 'the host folder is unchanged');
    t.equal(readFileSync(join(ro, 'file.txt'), 'utf8'), 'original', 'the host file is unchanged');
    t.equal(readFileSync(join(rw, 'movable.txt'), 'utf8'), 'stays in rw', 'the file that could not move is still in /data');
  });

  t.test('/tmp', async (t) => {
    t.same((await fsop(server, { op: 'tmp' })).result, { wrote: 9, read: 'tmp works', unlinked: true }, 'write, read back, delete');
  });
});

t.test('sessions follow their cookie across workers; files land in sessionDir', async (t) => {
  const server = await startTestServer({ workers: 2 });
  t.teardown(() => server.close());
  const first = await fetch(`${server.url}/session-pid.php`);
  const cookie = first.headers.get('set-cookie')?.split(';')[0] ?? '';
  const start = (await first.json()) as { count: number; id: string; pid: number };
  t.match(cookie, /^PHPSESSID=\w+$/, 'a session cookie is set');
  t.equal(start.count, 1);

  // Sequential requests, every other one while a slow request holds the first worker: they
  // alternate between the two workers.
  const counts = [start.count];
  const pids = [start.pid];
  for (let i = 0; i < 10; i++) {
    const blocker = i % 2 === 0 ? get(server, '/sleep.php?ms=300') : null;
    if (blocker) await until('the slow request to hold a worker', () => server.pool.stats.busy === 1);
    const answer = await getJson(server, '/session-pid.php', { cookie });
    counts.push(answer.count);
    pids.push(answer.pid);
    t.equal(answer.id, start.id, `request ${i + 2}: same session`);
    await blocker;
  }
  t.same(counts, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 'the count goes 1, 2, 3, … without a gap or repeat');
  t.equal(new Set(pids).size, 2, `both workers served the session (${pids.join(' ')})`);
  t.ok(existsSync(join(server.config.sessionDir!, `sess_${start.id}`)), 'the session file is in sessionDir on the host');
  t.match(readFileSync(join(server.config.sessionDir!, `sess_${start.id}`), 'utf8'), /count\|i:11;/, 'holding the last count');

  // Concurrent requests of one session: session locking is shared by the workers, so none is lost.
  const parallel = await Promise.all(Array.from({ length: 12 }, () => getJson(server, '/session-pid.php', { cookie })));
  t.same(parallel.map((a) => a.count).sort((a, b) => a - b), Array.from({ length: 12 }, (_, i) => 12 + i), '12 concurrent requests count 12…23, none lost');
  t.equal(new Set(parallel.map((a) => a.pid)).size, 2, 'spread over both workers');
});

t.test('a request waits for the session another worker holds, then reads what that one wrote', async (t) => {
  // A session is one request's at a time, across workers as within one php-fpm pool: a second
  // request blocks in session_start() and then reads what the first wrote (none of the two lost).
  const data = tempDir(t, 'pws-session-gate-');
  const server = await startTestServer({ workers: 2, mounts: [{ host: data, guest: '/data', readOnly: false }] });
  t.teardown(() => server.close());
  const first = await fetch(`${server.url}/session-gate.php?tag=init`);
  const cookie = first.headers.get('set-cookie')?.split(';')[0] ?? '';
  t.equal((await first.json()).count, 1, 'a new session counts 1');

  const gate = join(data, 'gate');
  writeFileSync(gate, '');
  t.teardown(() => rmSync(gate, { force: true }));
  const holder = getJson(server, '/session-gate.php?tag=a&hold=1', { cookie });
  await until('the first request to hold the session', () => existsSync(join(data, 'locked-a')));
  let waiterAnswered = false;
  const waiter = getJson(server, '/session-gate.php?tag=b', { cookie }).finally(() => { waiterAnswered = true; });
  await until('the second request to reach session_start', () => existsSync(join(data, 'started-b')));
  await until('both workers busy', () => server.pool.stats.busy === 2);
  t.notOk(existsSync(join(data, 'locked-b')), 'the second request waits in session_start while the first holds the session');
  t.notOk(waiterAnswered, 'and has not answered');
  rmSync(gate);
  const [a, b] = await Promise.all([holder, waiter]);
  t.equal(a.count, 2, 'the holder counted 2');
  t.equal(b.count, 3, 'the waiter read the holder\'s write and counted 3');
  t.not(a.pid, b.pid, 'on two workers');
});

t.test('flock() on a file opened read-only: shared and exclusive locks as PHP allows them, waiting for another worker', async (t) => {
  // php.wasm refused LOCK_SH on a read-only handle (EBADF: it checked flock's operation as an fcntl
  // lock type), so PHP's flock($handle, LOCK_SH) on a file opened 'r' returned false.
  const data = tempDir(t, 'pws-flock-');
  const server = await startTestServer({ workers: 2, mounts: [{ host: data, guest: '/data', readOnly: false }] });
  t.teardown(() => server.close());
  t.same(await getJson(server, '/flock-read-only.php'), { shared: true, 'shared non-blocking': true, unlock: true, exclusive: true }, 'every operation granted');

  const gate = join(data, 'gate');
  writeFileSync(gate, '');
  t.teardown(() => rmSync(gate, { force: true }));
  const holder = getJson(server, '/flock-read-only.php?hold=1');
  await until('the other worker to hold LOCK_EX', () => existsSync(join(data, 'holding')));
  rmSync(join(data, 'asking'), { force: true });
  let answered = false;
  const asker = getJson(server, '/flock-read-only.php').finally(() => { answered = true; });
  await until('the asker to reach flock()', () => existsSync(join(data, 'asking')));
  await until('both workers busy', () => server.pool.stats.busy === 2);
  t.notOk(answered, 'a blocking LOCK_SH waits while another worker holds LOCK_EX');
  rmSync(gate);
  t.same(await holder, { held: true });
  t.same(await asker, { shared: true, 'shared non-blocking': true, unlock: true, exclusive: true }, 'and is granted once it lets go');
});

t.test('SQLite on a mount: 8 concurrent clients insert 120 rows through 2 workers, all kept, file intact', async (t) => {
  const data = tempDir(t, 'pws-sqlite-');
  const server = await startTestServer({ workers: 2, mounts: [{ host: data, guest: '/data', readOnly: false }] });
  t.teardown(() => server.close());
  const statuses: number[] = [];
  const failures: string[] = [];
  const servedBy = new Set<unknown>();
  await Promise.all(Array.from({ length: 8 }, async (_, client) => {
    for (let n = 0; n < 15; n++) {
      const got = await get(server, `/sqlite.php?${query({ action: 'insert', client: `c${client}`, n: String(n) })}`);
      statuses.push(got.status);
      if (got.status !== 200) failures.push(`${got.status}: ${got.body.slice(0, 300)}`);
    }
  }));
  for (const line of server.logs) if (line.msg === 'request' && String(line.path).startsWith('/sqlite.php')) servedBy.add(line.worker);
  t.equal(statuses.length, 120);
  const phpMessages = server.logs.map((line) => line.php).filter((message) => typeof message === 'string');
  t.same(failures, [], `every insert succeeded${failures.length ? ` (PHP said: ${JSON.stringify(phpMessages)})` : ''}`);
  t.equal(servedBy.size, 2, `both workers wrote (${[...servedBy].join(', ')})`);
  t.same(await getJson(server, '/sqlite.php?action=check'), { count: 120, integrity: 'ok' }, 'exactly 120 rows, PRAGMA integrity_check ok');
  t.ok(existsSync(join(data, 'test.sqlite')), 'the database is the host file in the mounted folder');
  t.notOk(existsSync(join(data, 'test.sqlite-journal')), 'no journal left behind');
});
