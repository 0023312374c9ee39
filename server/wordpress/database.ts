/**
 * Which database a WordPress site uses: SQLite (the default, one machine) or MySQL/MariaDB (what
 * several replicas share). Read from `--db mysql://USER@HOST:PORT/NAME` or from the variables of the
 * official `wordpress` container image (WORDPRESS_DB_HOST, …), whose names users already know.
 * The password is never taken from the command line (it would show in `ps`): only from
 * WORDPRESS_DB_PASSWORD or a file named by WORDPRESS_DB_PASSWORD_FILE (Docker and Kubernetes secrets).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { ConfigError } from '../config/coerce.js';

export interface MysqlDatabase {
  kind: 'mysql';
  /** Name or address PHP connects to ('localhost' becomes 127.0.0.1: mysqli would look for a Unix socket). */
  host: string;
  port: number;
  user: string;
  password: string;
  name: string;
  tablePrefix: string;
}

export type DatabaseSettings = { kind: 'sqlite' } | MysqlDatabase;

export type Env = Record<string, string | undefined>;

/** The variables of the official image that this server reads (each also as NAME_FILE). */
export const DATABASE_ENV = ['WORDPRESS_DB_HOST', 'WORDPRESS_DB_USER', 'WORDPRESS_DB_PASSWORD', 'WORDPRESS_DB_NAME', 'WORDPRESS_TABLE_PREFIX'] as const;

/**
 * NAME's value from the environment, or the content of the file NAME_FILE names (one trailing
 * newline dropped, as secret files usually end with one). Both set is a mistake worth stopping for.
 */
export function secretFromEnv(env: Env, name: string, readFile: (file: string) => string = (f) => readFileSync(f, 'utf8')): string | undefined {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  if (direct !== undefined && file !== undefined) throw new ConfigError('db', `set ${name} or ${name}_FILE, not both`, name, 'environment');
  if (file === undefined) return direct;
  try {
    return readFile(file).replace(/\r?\n$/, '');
  } catch (error) {
    throw new ConfigError('db', `${name}_FILE must name a readable file (${(error as Error).message})`, file, 'environment');
  }
}

/**
 * The database settings from `--db` (or PHP_WASM_SERVER_DB) and the environment. `--db` wins over
 * WORDPRESS_DB_HOST/USER/NAME; the password and table prefix always come from the environment.
 */
export function resolveDatabase(dbUrl: string | undefined, env: Env, readFile?: (file: string) => string): DatabaseSettings {
  const read = (name: string) => secretFromEnv(env, name, readFile);
  const tablePrefix = checkedPrefix(read('WORDPRESS_TABLE_PREFIX') ?? 'wp_');
  const password = read('WORDPRESS_DB_PASSWORD') ?? '';
  if (dbUrl !== undefined && dbUrl !== '') {
    if (dbUrl === 'sqlite') return { kind: 'sqlite' };
    return { kind: 'mysql', ...parseDbUrl(dbUrl), password, tablePrefix };
  }
  const hostAndPort = read('WORDPRESS_DB_HOST');
  if (hostAndPort === undefined || hostAndPort === '') return { kind: 'sqlite' };
  const user = read('WORDPRESS_DB_USER');
  if (!user) throw new ConfigError('db', 'WORDPRESS_DB_USER is required with WORDPRESS_DB_HOST', user ?? '', 'environment');
  const { host, port } = splitHostPort(hostAndPort, 'WORDPRESS_DB_HOST', 'environment');
  const name = read('WORDPRESS_DB_NAME') || 'wordpress';
  return { kind: 'mysql', host, port, user, password, name: checkedName(name, 'WORDPRESS_DB_NAME'), tablePrefix };
}

const URL_SHAPE = 'must be `sqlite` or `mysql://USER@HOST:PORT/NAME` (password from WORDPRESS_DB_PASSWORD or WORDPRESS_DB_PASSWORD_FILE)';

function parseDbUrl(raw: string): Omit<MysqlDatabase, 'kind' | 'password' | 'tablePrefix'> {
  const fail = (why = URL_SHAPE): never => {
    // The value may hold a password: never repeat it.
    throw new ConfigError('db', why, raw.replace(/:[^:@/]*@/, ':***@'), '--db');
  };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail();
  }
  if (url.protocol !== 'mysql:' && url.protocol !== 'mariadb:') fail();
  if (url.password) fail('must not hold the password (it would show in the process list): set WORDPRESS_DB_PASSWORD or WORDPRESS_DB_PASSWORD_FILE');
  if (!url.username || !url.hostname || url.search || url.hash) fail();
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!name) fail();
  const { host, port } = splitHostPort(url.host, '--db', '--db');
  return { host, port, user: decodeURIComponent(url.username), name: checkedName(name, '--db') };
}

/** host, host:port, [v6] or [v6]:port; the port defaults to MySQL's 3306. */
export function splitHostPort(value: string, what: string, source: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+))(?::(\d{1,5}))?$/.exec(value.trim());
  const port = match?.[3] === undefined ? 3306 : Number(match[3]);
  if (!match || port < 1 || port > 65535 || (match[1] !== undefined && isIP(match[1]) !== 6)) {
    throw new ConfigError('db', `${what} must be HOST or HOST:PORT (a name, an IPv4 address or [IPv6])`, value, source);
  }
  const host = match[1] ?? match[2]!;
  return { host: host.toLowerCase() === 'localhost' ? '127.0.0.1' : host, port };
}

/** WordPress itself accepts only these characters in a table prefix. */
function checkedPrefix(prefix: string): string {
  if (!/^[A-Za-z0-9_]+$/.test(prefix)) throw new ConfigError('db', 'WORDPRESS_TABLE_PREFIX may hold only letters, digits and _', prefix, 'environment');
  return prefix;
}

/** MySQL allows more, but these cover real database names and keep the name safe to quote anywhere. */
function checkedName(name: string, source: string): string {
  if (!/^[A-Za-z0-9_$-]{1,64}$/.test(name)) throw new ConfigError('db', 'the database name may hold only letters, digits, _, $ and - (at most 64)', name, source);
  return name;
}

/** host:port as the allowlist and WordPress's DB_HOST write it (IPv6 in brackets). */
export function databaseAddress(db: MysqlDatabase): string {
  return `${isIP(db.host) === 6 ? `[${db.host}]` : db.host}:${db.port}`;
}
