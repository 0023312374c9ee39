/**
 * A real MariaDB (Debian's mariadb-server) for one test: its own data folder and socket, a free port
 * on 127.0.0.1, started and stopped by the test. Queries go through Debian's `mariadb` client.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { until } from './until.js';

const SERVER = ['/usr/sbin/mariadbd', '/usr/sbin/mysqld'].find((path) => existsSync(path));
const INSTALL_DB = ['/usr/bin/mariadb-install-db', '/usr/bin/mysql_install_db'].find((path) => existsSync(path));

export function mariadbAvailable(): boolean {
  return SERVER !== undefined && INSTALL_DB !== undefined;
}

export interface TestMariaDb {
  port: number;
  /** Runs SQL as root; the rows as arrays of strings (tab-separated batch output). */
  query(sql: string, database?: string): string[][];
  /** Creates a database and a user with all rights on it, reachable over TCP. */
  createDatabase(name: string, user: string, password: string): void;
  close(): Promise<void>;
}

export async function startMariaDb(): Promise<TestMariaDb> {
  if (!SERVER || !INSTALL_DB) throw new Error('mariadb-server is not installed (apt-get install mariadb-server)');
  const dir = mkdtempSync(join(tmpdir(), 'pws-mariadb-'));
  const dataDir = join(dir, 'data');
  const socket = join(dir, 'mysqld.sock');
  const asRoot = process.getuid?.() === 0 ? ['--user=root'] : [];
  const install = spawnSync(INSTALL_DB, ['--no-defaults', `--datadir=${dataDir}`, '--auth-root-authentication-method=socket', '--skip-test-db', ...asRoot], { encoding: 'utf8' });
  if (install.status !== 0) throw new Error(`mariadb-install-db failed: ${install.stderr}${install.stdout}`);
  const port = await freePort();
  const child = spawn(SERVER, [
    '--no-defaults', `--datadir=${dataDir}`, `--socket=${socket}`, `--port=${port}`, '--bind-address=127.0.0.1',
    '--skip-name-resolve', '--innodb-buffer-pool-size=64M', '--max-connections=300', `--log-error=${join(dir, 'error.log')}`, `--pid-file=${join(dir, 'mysqld.pid')}`, ...asRoot,
  ], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  // A test process that ends without its teardowns must not leave a database server behind.
  const killOnExit = () => { if (child.exitCode === null) child.kill('SIGKILL'); };
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  const run = (sql: string, database?: string) => spawnSync('mariadb', ['--no-defaults', '-uroot', `--socket=${socket}`, '-N', '-B', ...(database ? [database] : []), '-e', sql], { encoding: 'utf8' });
  const log = () => { try { return readFileSync(join(dir, 'error.log'), 'utf8').slice(-2000); } catch { return ''; } };
  await until('MariaDB to accept connections', () => {
    if (child.exitCode !== null) throw new Error(`mariadbd exited (${child.exitCode}): ${log()}`);
    return run('SELECT 1').status === 0;
  }, 60_000);
  const query = (sql: string, database?: string) => {
    const result = run(sql, database);
    if (result.status !== 0) throw new Error(`SQL failed: ${sql}: ${result.stderr}`);
    return result.stdout.split('\n').filter((line) => line !== '').map((line) => line.split('\t'));
  };
  return {
    port,
    query,
    createDatabase(name, user, password) {
      query(`CREATE DATABASE \`${name}\`; CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'; GRANT ALL ON \`${name}\`.* TO '${user}'@'%';`);
    },
    async close() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
