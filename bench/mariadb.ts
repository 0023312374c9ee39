/**
 * The bench's own MariaDB (Debian's mariadb-server), one instance that ours and native share, so
 * both pay the same database cost: a fresh data folder under the bench's data folder every run (the
 * sites are installed anew, so every run starts from the same content), a free port on 127.0.0.1,
 * its own socket, no config files read (--no-defaults). A bench child: stopped when the bench ends.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnChild, stopChild, type Child } from './children.js';
import { freePort, HOST } from './loopback.js';

const SERVER = ['/usr/sbin/mariadbd', '/usr/sbin/mysqld'].find((path) => existsSync(path));
const INSTALL_DB = ['/usr/bin/mariadb-install-db', '/usr/bin/mysql_install_db'].find((path) => existsSync(path));
const CLIENT = ['/usr/bin/mariadb', '/usr/bin/mysql'].find((path) => existsSync(path));

/** What a site needs to reach its database (the password goes to our server through the environment). */
export interface DbConnection {
  host: string;
  port: number;
  user: string;
  password: string;
  name: string;
}

export interface BenchMariaDb {
  port: number;
  /** e.g. "10.11.19-MariaDB" */
  version: string;
  child: Child;
  /** Its error log (startup notes, warnings such as aborted connections). */
  errorLog: string;
  /** An empty database and a user with all rights on it, reachable over TCP from 127.0.0.1. */
  createDatabase(name: string, user: string, password: string): DbConnection;
  stop(): Promise<void>;
}

export interface MariaDbOptions {
  dataDir: string;
  logDir: string;
  startTimeoutMs: number;
}

export async function startMariaDb(opts: MariaDbOptions): Promise<BenchMariaDb> {
  if (!SERVER || !INSTALL_DB || !CLIENT) throw new Error('--db mariadb needs Debian\'s mariadb-server (apt-get install -y mariadb-server)');
  const base = join(opts.dataDir, 'mariadb');
  const data = join(base, 'data');
  rmSync(base, { recursive: true, force: true });
  mkdirSync(base, { recursive: true });
  mkdirSync(opts.logDir, { recursive: true });
  // A Unix socket path has a limit of about 100 bytes; a deep --data-dir would exceed it.
  const socket = join(base, 'mysqld.sock').length < 100 ? join(base, 'mysqld.sock') : join(tmpdir(), `bench-mariadb-${process.pid}.sock`);
  const asRoot = process.getuid?.() === 0 ? ['--user=root'] : [];
  const install = spawnSync(INSTALL_DB, ['--no-defaults', `--datadir=${data}`, '--auth-root-authentication-method=socket', '--skip-test-db', ...asRoot], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (install.status !== 0) throw new Error(`mariadb-install-db failed: ${install.stderr}${install.stdout}`);

  const port = await freePort();
  const errorLog = join(opts.logDir, 'mariadb-error.log');
  rmSync(errorLog, { force: true });
  const child = spawnChild('mariadbd', SERVER, [
    '--no-defaults', `--datadir=${data}`, `--socket=${socket}`, `--port=${port}`, `--bind-address=${HOST}`,
    `--pid-file=${join(base, 'mariadbd.pid')}`, `--log-error=${errorLog}`,
    // No DNS lookups per connection; the WordPress tables fit in memory many times over.
    '--skip-name-resolve', '--innodb-buffer-pool-size=128M', '--max-connections=200',
    ...asRoot,
  ], { logFile: join(opts.logDir, 'mariadb.out'), marker: data });

  const sql = (statement: string) => spawnSync(CLIENT, ['--no-defaults', '-uroot', `--socket=${socket}`, '-N', '-B', '-e', statement], { encoding: 'utf8', timeout: 30_000 });
  const stop = () => stopChild(child, 15_000);
  const deadline = Date.now() + opts.startTimeoutMs;
  for (;;) {
    if (child.exitCode !== undefined) throw new Error(`mariadbd exited (code ${child.exitCode}) while starting; its log:\n${tail(errorLog)}`);
    if (sql('SELECT 1').status === 0) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`MariaDB did not accept connections within ${Math.round(opts.startTimeoutMs / 1000)} s; its log:\n${tail(errorLog)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const version = sql('SELECT VERSION()').stdout.trim();

  return {
    port,
    version,
    child,
    errorLog,
    createDatabase(name, user, password) {
      const quoted = (text: string) => `'${text.replace(/[\\']/g, (c) => `\\${c}`)}'`;
      const result = sql(
        `DROP DATABASE IF EXISTS \`${name}\`; CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; ` +
          `CREATE USER IF NOT EXISTS ${quoted(user)}@${quoted(HOST)} IDENTIFIED BY ${quoted(password)}; ` +
          `GRANT ALL ON \`${name}\`.* TO ${quoted(user)}@${quoted(HOST)};`,
      );
      if (result.status !== 0) throw new Error(`creating database ${name} failed: ${result.stderr}`);
      return { host: HOST, port, user, password, name };
    },
    stop,
  };
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
