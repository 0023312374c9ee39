/**
 * SQLite's WAL mode across php.wasm workers, over real HTTP against real workers and a real database
 * file in a mounted host folder. WAL's index is shared memory (the -shm file, mmapped), which
 * Emscripten copies into each instance, so workers in WAL lost each other's commits. Workers refuse
 * WAL: `PRAGMA journal_mode=WAL` answers 'delete' and every row is kept. The database is checked on
 * the host by a native SQLite (python3's sqlite3 module), not only through PHP.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { startTestServer, tempDir, type TestServer } from './helpers/server.js';

async function getJson(server: TestServer, path: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const response = await fetch(server.url + path, { signal: AbortSignal.timeout(60_000) });
  const body = await response.text();
  try {
    return JSON.parse(body);
  } catch {
    throw new Error(`${path}: not JSON (status ${response.status}): ${JSON.stringify(body.slice(0, 300))}`);
  }
}

const query = (params: Record<string, string>) => new URLSearchParams(params).toString();

/** Runs python3 with sqlite3 on the host; `script` gets the database path as `path` and prints JSON. */
function nativeSqlite(path: string, script: string): any { // eslint-disable-line @typescript-eslint/no-explicit-any
  const program = `import json, os, sqlite3, sys\npath = sys.argv[1]\n${script}`;
  return JSON.parse(execFileSync('python3', ['-c', program, path], { encoding: 'utf8' }));
}

const CHECK_ON_HOST = `
db = sqlite3.connect(path)
print(json.dumps({
  'integrity': db.execute('PRAGMA integrity_check').fetchone()[0],
  'count': db.execute('SELECT COUNT(*) FROM rows').fetchone()[0],
  'mode': db.execute('PRAGMA journal_mode').fetchone()[0],
}))`;

/** A database made by native SQLite in WAL mode with 5 rows; `leaveWal` ends the process without a checkpoint. */
function nativeWalDatabase(path: string, leaveWal: boolean): void {
  nativeSqlite(path, `
db = sqlite3.connect(path, isolation_level=None)
db.execute('PRAGMA journal_mode=WAL')
db.execute('PRAGMA wal_autocheckpoint=0')
db.execute('CREATE TABLE rows (id INTEGER PRIMARY KEY, client TEXT, n INTEGER)')
for n in range(5): db.execute("INSERT INTO rows (client, n) VALUES ('native', ?)", (n,))
print(json.dumps(True))
sys.stdout.flush()
${leaveWal ? 'os._exit(0)' : 'db.close()'}`);
}

const headerVersions = (path: string) => [...readFileSync(path).subarray(18, 20)];

t.test('8 workers asking for WAL: SQLite answers delete, every row kept, integrity ok on the host', async (t) => {
  const data = tempDir(t, 'pws-wal-');
  const server = await startTestServer({ workers: 8, mounts: [{ host: data, guest: '/data', readOnly: false }] });
  t.teardown(() => server.close());
  const answers = await Promise.all(Array.from({ length: 8 }, async (_, client) => {
    const mine = [];
    for (let request = 0; request < 2; request++) mine.push(await getJson(server, `/sqlite-wal.php?${query({ action: 'insert', client: `c${client}`, count: '10' })}`));
    return mine;
  })).then((all) => all.flat());
  const workers = new Set(server.logs.filter((line) => line.msg === 'request' && String(line.path).startsWith('/sqlite-wal.php')).map((line) => line.worker));

  t.same([...new Set(answers.map((a) => a.mode))], ['delete'], 'PRAGMA journal_mode=WAL answered delete, every time');
  t.same(answers.flatMap((a) => a.errors ?? [a.error]), [], 'no insert failed');
  t.equal(answers.reduce((sum, a) => sum + a.inserted, 0), 160, '160 rows inserted');
  t.ok(workers.size >= 2, `several workers wrote (${workers.size})`);
  t.same(await getJson(server, '/sqlite-wal.php?action=check'), { count: 160, integrity: 'ok', mode: 'delete' }, 'PHP in a fresh request: 160 rows, intact, not WAL');
  const database = join(data, 'wal.sqlite');
  t.same(nativeSqlite(database, CHECK_ON_HOST), { integrity: 'ok', count: 160, mode: 'delete' }, 'native SQLite on the host agrees');
  t.same(headerVersions(database), [1, 1], 'the file header says rollback journal');
  t.notOk(existsSync(`${database}-wal`) || existsSync(`${database}-shm`), 'no -wal or -shm file was made');
});

t.test('a database native SQLite left in WAL mode (cleanly closed) is used in rollback mode and converted', async (t) => {
  const data = tempDir(t, 'pws-wal-');
  const database = join(data, 'native.sqlite');
  nativeWalDatabase(database, false);
  t.same(headerVersions(database), [2, 2], 'precondition: the header says WAL');
  t.notOk(existsSync(`${database}-wal`), 'precondition: no -wal file (checkpointed on close)');
  const server = await startTestServer({ workers: 2, mounts: [{ host: data, guest: '/data', readOnly: false }] });
  t.teardown(() => server.close());

  t.same(await getJson(server, `/sqlite-wal.php?${query({ action: 'open', file: '/data/native.sqlite' })}`), { ok: true, count: 5, mode: 'delete' }, 'PHP reads its 5 rows, in rollback mode');
  t.same(await getJson(server, `/sqlite-wal.php?${query({ action: 'insert', file: '/data/native.sqlite', client: 'php', count: '3' })}`), { mode: 'delete', inserted: 3, errors: [] }, 'and writes, still refusing WAL');
  t.same(nativeSqlite(database, CHECK_ON_HOST), { integrity: 'ok', count: 8, mode: 'delete' }, 'native SQLite: 8 rows, intact, now a rollback-journal database');
  t.same(headerVersions(database), [1, 1], 'the header was converted by the first write');
});

t.test('a WAL database with commits still in its -wal file: a clear SQLite error, nothing lost', async (t) => {
  const data = tempDir(t, 'pws-wal-');
  const database = join(data, 'native.sqlite');
  nativeWalDatabase(database, true);
  t.ok(existsSync(`${database}-wal`), 'precondition: the -wal file holds the commits');
  const server = await startTestServer({ workers: 2, mounts: [{ host: data, guest: '/data', readOnly: false }] });
  t.teardown(() => server.close());

  const open = await getJson(server, `/sqlite-wal.php?${query({ action: 'open', file: '/data/native.sqlite' })}`);
  t.equal(open.ok, false, 'PHP cannot use it');
  t.match(open.error, /unable to open database file/, `SQLite's error: ${open.error}`);
  const insert = await getJson(server, `/sqlite-wal.php?${query({ action: 'insert', file: '/data/native.sqlite', client: 'php', count: '3' })}`);
  t.match(insert, { ok: false, error: /unable to open database file/ }, 'nor write to it');
  t.same(nativeSqlite(database, CHECK_ON_HOST), { integrity: 'ok', count: 5, mode: 'wal' }, 'native SQLite still finds its 5 rows, intact');
});
