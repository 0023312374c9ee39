/**
 * SQLite's WAL mode needs a shared-memory index (the -shm file, mapped by every connection), which
 * separate php.wasm instances cannot share: with WAL on a host folder, 8 writers corrupted the
 * database. The server keeps such databases in a rollback journal: asking for WAL leaves the file
 * in rollback mode (every row kept, integrity ok), and a database already in WAL mode is refused
 * with an error rather than opened unsafely. Real php.wasm over real HTTP; checked on the host
 * with Python's sqlite3.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { startTestServer, tempDir } from './helpers/server.js';

type Writer = { ok: boolean; asked?: string; mode?: string; error?: string; rows?: number };

function hostCheck(db: string): { integrity: string; rows: number; version: number[] } {
  const script = 'import sqlite3,sys,json\nc=sqlite3.connect(sys.argv[1])\nprint(json.dumps([c.execute("PRAGMA integrity_check").fetchone()[0], c.execute("SELECT COUNT(*) FROM rows").fetchone()[0]]))';
  const [integrity, rows] = JSON.parse(execFileSync('python3', ['-c', script, db], { encoding: 'utf8' })) as [string, number];
  const header = readFileSync(db).subarray(18, 20);
  return { integrity, rows, version: [header[0]!, header[1]!] };
}

t.test('8 writers asking for WAL on a mounted folder: every row, a clean database, still a rollback journal', async (t) => {
  const data = tempDir(t, 'pws-wal-');
  const server = await startTestServer({ workers: 2, mounts: [{ host: data, guest: '/data', readOnly: false }] });
  t.teardown(() => server.close());
  const rounds = 3;
  const writers = 8;
  const rowsEach = 25;
  let refusedAsks = 0;
  for (let round = 0; round < rounds; round++) {
    const results = await Promise.all(Array.from({ length: writers }, async (_, client) => {
      const response = await fetch(`${server.url}/sqlite-wal.php?client=${round}-${client}&rows=${rowsEach}`);
      return (await response.json()) as Writer;
    }));
    t.same(results.filter((r) => !r.ok), [], `round ${round}: every writer wrote all its rows`);
    t.same(results.filter((r) => r.ok && r.mode !== 'delete'), [], `round ${round}: after asking, each connection is in a rollback journal`);
    refusedAsks += results.filter((r) => r.asked?.startsWith('error')).length;
  }
  t.comment(`${refusedAsks} of ${rounds * writers} requests for WAL met another writer ("database is locked")`);
  const check = (await (await fetch(`${server.url}/sqlite-wal.php?check=1`)).json()) as { rows: number; mode: string; integrity: string };
  t.same(check, { rows: rounds * writers * rowsEach, mode: 'delete', integrity: 'ok' }, 'every row, rollback journal, integrity ok (seen from PHP)');
  const host = hostCheck(join(data, 'wal.sqlite'));
  t.same(host, { integrity: 'ok', rows: rounds * writers * rowsEach, version: [1, 1] }, 'the same on the host; the file says rollback journal');
  t.notOk(existsSync(join(data, 'wal.sqlite-wal')), 'no WAL file');
  t.notOk(existsSync(join(data, 'wal.sqlite-shm')), 'no shared-memory file');
});

t.test('a database already in WAL mode is refused with an error, not opened unsafely', async (t) => {
  const data = tempDir(t, 'pws-wal-');
  execFileSync('python3', ['-c', 'import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nc.execute("PRAGMA journal_mode=WAL")\nc.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, client TEXT, n INTEGER, pad TEXT)")\nc.commit()\nc.close()', join(data, 'wal.sqlite')]);
  const server = await startTestServer({ workers: 1, mounts: [{ host: data, guest: '/data', readOnly: false }] });
  t.teardown(() => server.close());
  const result = (await (await fetch(`${server.url}/sqlite-wal.php?client=a&rows=1`)).json()) as Writer;
  t.equal(result.ok, false, 'the write fails');
  t.match(result.error, /unable to open|readonly database|disk I\/O/i, `with SQLite's own error (${result.error})`);
  t.ok(server.logs.some((line) => /WAL/.test(String(line.msg))), 'and the log says why');
  t.equal(hostCheck(join(data, 'wal.sqlite')).integrity, 'ok', 'the database is untouched');
});
