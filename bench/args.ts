/** Command line of `npm run bench -- [options]`. */
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { parseWordPressVersion } from '../server/wordpress/sources.js';
import { parseArgs } from 'node:util';
import { RECYCLING_SCENARIOS } from './recycling-scenarios.js';
import { SCENARIOS } from './scenarios.js';

export type BenchDb = 'sqlite' | 'mariadb';

export interface BenchArgs {
  compareNative: boolean;
  db: BenchDb;
  /** --db mariadb: our server as this many processes behind nginx, after 1. */
  replicas: number;
  durationSeconds: number;
  /** Each scenario (but the cached page) is measured this many times per server, alternating (rounds.ts). */
  rounds: number;
  warmupSeconds: number;
  warmupRequests: number;
  connections: number;
  maxRequests: number;
  workers: number;
  quietWaitSeconds: number;
  scenarios: string[];
  json?: string;
  dataDir: string;
  /** Our server's --wordpress-version (default `bundled`); the native servers get a copy of that tree. */
  wordpressVersion: string;
  fresh: boolean;
  help: boolean;
}

/** What --db mariadb measures unless --scenarios says otherwise. */
export const MARIADB_SCENARIOS = ['home', 'rest'];

/** Other processes may use this many cores before a measurement counts as disturbed. */
export const QUIET_CORES = 0.25;

export const USAGE = `usage: npm run bench -- [options]

  --compare-native       also run nginx + php-fpm (Debian packages, installed if missing) on a copy
                         of the same WordPress, and print ours/native ratios
  --db sqlite|mariadb    the sites' database (default sqlite). mariadb implies --compare-native: the
                         bench starts its own MariaDB (Debian's mariadb-server, a fresh data folder each
                         run, 127.0.0.1), one database for ours and one for native, both installed by
                         WordPress's installer; then measures native, ours as 1 process, and ours as
                         --replicas processes behind nginx (round robin), all on that one MariaDB.
                         Default scenarios: home, rest (the ones that query the database)
  --replicas N           with --db mariadb: processes of ours behind nginx, each with --workers
                         workers (default 3; 1 = skip that part)
  --duration S           seconds of load per scenario and server (default 10)
  --rounds N             measure each scenario N times per server, alternating servers, and take
                         each server's median round (default 3). The cached page is measured once,
                         but for it both servers start N times: the first page after start is the
                         median start
  --warmup S             warm-up seconds before each measurement (default 3) ...
  --warmup-requests N    ... or this many requests, whichever comes first (default 100)
  --connections N        concurrent keep-alive connections (default 8)
  --max-requests N       upper bound of requests per measurement (default 500000)
  --workers N            our PHP workers (per process) = php-fpm children (default 2)
  --quiet-wait S         before each measurement, wait up to S seconds for other processes to use
                         less than ${QUIET_CORES} cores (default 20; 0 = don't wait)
  --scenarios LIST       comma-separated subset of: ${[...SCENARIOS, ...RECYCLING_SCENARIOS].map((s) => s.id).join(', ')}
                         (home-cache: both servers restarted with their page caches on, ours' and
                         nginx's fastcgi_cache; the restart also times the first home page after
                         start. SQLite only)
                         Not in the default list, each a few minutes (SQLite only): soak (50,000
                         requests, 90 % trivial .php + static, 10 % WordPress, workers recycled
                         every 1,500; RSS idle before and after) and recycle (home page p99 while
                         workers recycle, ÷ p99 of steady state); both restart the servers
  --json FILE            also write the results as JSON
  --wordpress-version V  the WordPress our server assembles: latest, X.Y[.Z] or a .zip file, as its
                         own option takes it (default bundled: the same build on every machine,
                         offline); native gets a copy of that tree. A site is assembled once:
                         another version needs another data folder, which is then the default:
                         var/bench-wp-<version, or the ZIP's name without .zip>
  --data-dir DIR         where sites, configs and logs live between runs (default var/bench)
  --fresh                delete the data folder first (reassemble, recopy, reinstall)
`;

export function parseBenchArgs(argv: string[], projectRoot: string): BenchArgs {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'compare-native': { type: 'boolean', default: false },
      db: { type: 'string', default: 'sqlite' },
      replicas: { type: 'string' },
      duration: { type: 'string', default: '10' },
      rounds: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '3' },
      'warmup-requests': { type: 'string', default: '100' },
      connections: { type: 'string', default: '8' },
      'max-requests': { type: 'string', default: '500000' },
      workers: { type: 'string', default: '2' },
      'quiet-wait': { type: 'string', default: '20' },
      scenarios: { type: 'string' },
      json: { type: 'string' },
      'data-dir': { type: 'string' },
      'wordpress-version': { type: 'string', default: 'bundled' },
      fresh: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (positionals.length) throw new Error(`unexpected argument ${positionals[0]}`);
  const wordpressVersion = checkedWordPressVersion(values['wordpress-version']!);
  const db = values.db!;
  if (db !== 'sqlite' && db !== 'mariadb') throw new Error(`--db must be sqlite or mariadb, got ${db}`);
  if (values.replicas !== undefined && db !== 'mariadb') throw new Error('--replicas needs --db mariadb (replicas share one database)');
  // The static file and the trivial script never reach the database: the same as with SQLite.
  const defaults = db === 'mariadb' ? MARIADB_SCENARIOS : SCENARIOS.map((s) => s.id);
  const scenarios = values.scenarios ? values.scenarios.split(',').map((s) => s.trim()).filter(Boolean) : defaults;
  for (const id of scenarios) if (![...SCENARIOS, ...RECYCLING_SCENARIOS].some((s) => s.id === id)) throw new Error(`unknown scenario ${id}`);
  const sqliteOnly = [...SCENARIOS.filter((s) => s.pageCache), ...RECYCLING_SCENARIOS].filter((s) => scenarios.includes(s.id));
  if (db === 'mariadb' && sqliteOnly.length) throw new Error(`${sqliteOnly[0].id} is measured with --db sqlite only`);
  return {
    compareNative: values['compare-native']! || db === 'mariadb',
    db,
    replicas: number('--replicas', values.replicas ?? '3', 1, 8),
    durationSeconds: number('--duration', values.duration!, 1, 600),
    rounds: integer('--rounds', values.rounds!, 1, 15),
    warmupSeconds: number('--warmup', values.warmup!, 0, 120),
    warmupRequests: number('--warmup-requests', values['warmup-requests']!, 0, 1_000_000),
    connections: number('--connections', values.connections!, 1, 256),
    maxRequests: number('--max-requests', values['max-requests']!, 1, 100_000_000),
    workers: number('--workers', values.workers!, 1, 32),
    quietWaitSeconds: number('--quiet-wait', values['quiet-wait']!, 0, 600),
    scenarios,
    json: values.json ? resolve(values.json) : undefined,
    dataDir: resolve(projectRoot, values['data-dir'] ?? defaultDataDir(wordpressVersion)),
    wordpressVersion,
    fresh: values.fresh!,
    help: values.help!,
  };
}

/**
 * Checked as the server checks it, before the bench installs or starts anything; a ZIP must exist
 * and is passed on as an absolute path (the server runs in the project folder, not the caller's).
 */
function checkedWordPressVersion(value: string): string {
  const parsed = parseWordPressVersion(value);
  if (!parsed) throw new Error(`--wordpress-version must be latest, bundled, X.Y[.Z] or a .zip file; got "${value}"`);
  if (parsed.kind !== 'file') return value;
  const zip = resolve(parsed.file);
  if (!existsSync(zip)) throw new Error(`--wordpress-version: no such file ${zip}`);
  return zip;
}

/** var/bench for the bundled WordPress; another version gets its own folder, so no run measures a tree assembled for another. */
export function defaultDataDir(wordpressVersion: string): string {
  if (wordpressVersion === 'bundled') return 'var/bench';
  const label = basename(wordpressVersion).replace(/\.zip$/i, '').replace(/[^\w.-]+/g, '-');
  return `var/bench-wp-${label}`;
}

function integer(flag: string, text: string, min: number, max: number): number {
  const value = number(flag, text, min, max);
  if (!Number.isInteger(value)) throw new Error(`${flag} must be a whole number, got ${text}`);
  return value;
}

function number(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`${flag} must be a number from ${min} to ${max}, got ${text}`);
  return value;
}
