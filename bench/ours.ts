/**
 * Our server, started exactly as a user starts it: `node dist/server/cli.js wordpress ...` as a
 * child process, with the malloc tunable that the launcher and the container set
 * (server/malloc-tunables.ts). The first run assembles WordPress into the bench's data folder and
 * the site flags install it unattended; later runs reuse both. With --db mariadb each process gets
 * the flags of a replica in deploy/compose.yaml (a MySQL database, shared uploads, one site URL for all).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnChild, stopChild, type Child } from './children.js';
import { freePort, HOST, secondsToFirstPage, waitFor200 } from './loopback.js';
import type { DbConnection } from './mariadb.js';
import { PAGE_CACHE_TTL_SECONDS } from './native-page-cache.js';
import { recycledWorkers } from './recycle-count.js';
import { treeRss } from './rss.js';
import { withMallocTunable } from '../server/malloc-tunables.js';
import { SERVER_NODE_FLAGS } from '../server/node-flags.js';
import { SITE, writeBenchScripts } from './site.js';
import { choosePort, rememberPort } from './site-ports.js';
import type { Target } from './target.js';
import { serverAtRest, waitForWarmWorkers } from './warm-workers.js';

export interface OursOptions {
  projectRoot: string;
  dataDir: string;
  workers: number;
  startTimeoutMs: number;
  /** Our server's --wordpress-version for a site it assembles (the bench's --wordpress-version). */
  wordpressVersion: string;
  /** The page cache on (the page-cache scenario); off otherwise, see PAGE_CACHE_NOTE. */
  pageCache?: boolean;
  /** Also time spawn → first 200 home page (on a site prepared by an earlier start). */
  timeFirstPage?: boolean;
  /** --max-requests: requests per worker before it is recycled (the server's default without it). */
  maxRequests?: number;
  /**
   * --admin-port: its /metrics count the recycles (the recycling scenarios) and tell when every
   * worker is warm (ready() waits for that). startOurs and startOursMysql choose one when it is not given.
   */
  adminPort?: number;
}

/** One process of a MySQL site (each has its own WordPress tree, as on separate machines). */
export interface OursMysqlSite {
  /** Names the child and its log, e.g. "replica-1". */
  name: string;
  dir: string;
  sessions: string;
  /** One uploads folder for every process of the site. */
  uploads: string;
  db: DbConnection;
  port: number;
  /** The public address: the process's own, or the load balancer's. */
  siteUrl: string;
}

/** A started process of ours, not yet known to serve the site. */
export interface OursProcess {
  child: Child;
  /** Its own address (not the site URL). */
  url: string;
  dir: string;
  /** Resolves once the installed site answers; stops the process and throws if it does not. */
  ready(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The server's page cache (on by default for WordPress) would answer the home page from memory:
 * the bench measures what PHP (and the database) cost, so it is off, and native has none; only the
 * page-cache scenario turns it on, against nginx's fastcgi_cache (page-cache-run.ts).
 */
export const PAGE_CACHE_NOTE = 'page cache off (--page-cache false): native has none; every page is made by PHP';
const PAGE_CACHE_ON_NOTE = `page cache on (--page-cache true, --page-cache-ttl ${PAGE_CACHE_TTL_SECONDS}), as native's fastcgi_cache`;

/** The SQLite site in dataDir/ours, as a target. */
export async function startOurs(opts: OursOptions): Promise<Target> {
  const dir = join(opts.dataDir, 'ours', 'wordpress');
  const sessions = join(opts.dataDir, 'ours', 'sessions');
  const notes: string[] = [];
  if (!existsSync(join(dir, 'wp-settings.php'))) notes.push(`first run: WordPress assembled into ${dir}`);
  const { port, note } = await choosePort(opts.dataDir, 'ours', join(dir, 'wp-content', 'database', '.ht.sqlite'));
  if (note) notes.push(note);
  opts = { ...opts, adminPort: opts.adminPort ?? await freePort() };
  const started = performance.now();
  const proc = spawnOurs(opts, { name: 'php-wasm-server', dir, sessions, port, siteUrl: `http://${HOST}:${port}`, logFile: join(opts.dataDir, 'logs', 'ours.log') });
  let firstPageSeconds: number | undefined;
  if (opts.timeFirstPage) {
    firstPageSeconds = await secondsToFirstPage(proc.url, [proc.child], started, opts.startTimeoutMs).catch(async (error: unknown) => {
      await proc.stop();
      throw error;
    });
  }
  await proc.ready();
  rememberPort(opts.dataDir, 'ours', port);
  return { ...oursTarget(opts, proc, notes, started), firstPageSeconds };
}

/** One process of a MySQL site, as a target (ours × 1). */
export async function startOursMysql(opts: OursOptions, site: OursMysqlSite): Promise<Target> {
  const notes = existsSync(join(site.dir, 'wp-settings.php')) ? [] : [`first run: WordPress assembled into ${site.dir}`];
  opts = { ...opts, adminPort: opts.adminPort ?? await freePort() };
  const started = performance.now();
  const proc = spawnOursMysql(opts, site);
  await proc.ready();
  return oursTarget(opts, proc, notes, started);
}

/** Starts one process of a MySQL site; the caller awaits ready(). */
export function spawnOursMysql(opts: OursOptions, site: OursMysqlSite): OursProcess {
  const { db } = site;
  mkdirSync(site.uploads, { recursive: true }); // the server mounts it: it must exist
  return spawnOurs(opts, {
    ...site,
    logFile: join(opts.dataDir, 'logs', `ours-${site.name}.log`),
    env: { WORDPRESS_DB_PASSWORD: db.password },
    extraArgs: [
      '--db', `mysql://${db.user}@${db.host}:${db.port}/${db.name}`,
      '--uploads', site.uploads,
      '--file-mods', 'false',
      // Behind the bench's nginx; a direct client sends no X-Forwarded-* to believe.
      '--trust-proxy', 'loopback',
      '--wordpress-org', 'false',
    ],
  });
}

interface SpawnSpec {
  name: string;
  dir: string;
  sessions: string;
  port: number;
  siteUrl: string;
  logFile: string;
  extraArgs?: string[];
  env?: Record<string, string>;
}

function spawnOurs(opts: OursOptions, spec: SpawnSpec): OursProcess {
  const { dir } = spec;
  const url = `http://${HOST}:${spec.port}`;
  mkdirSync(spec.sessions, { recursive: true });
  const args = [
    join(opts.projectRoot, 'dist', 'server', 'cli.js'), 'wordpress',
    '--dir', dir,
    '--session-dir', spec.sessions,
    '--opcache-file-cache', join(spec.sessions, '..', 'opcache'),
    '--port', String(spec.port),
    '--host', HOST,
    // The address the load generator uses: the page's links are checked against it.
    '--site-url', spec.siteUrl,
    ...(spec.extraArgs ?? []),
    '--workers', String(opts.workers),
    ...(opts.maxRequests !== undefined ? ['--max-requests', String(opts.maxRequests)] : []),
    ...(opts.adminPort !== undefined ? ['--admin-port', String(opts.adminPort), '--admin-host', HOST] : []),
    '--site-title', SITE.title,
    '--admin-user', SITE.adminUser,
    '--admin-password', SITE.adminPassword,
    '--admin-email', SITE.adminEmail,
    '--cron-interval', '0',
    ...(opts.pageCache ? ['--page-cache', 'true', '--page-cache-ttl', String(PAGE_CACHE_TTL_SECONDS)] : ['--page-cache', 'false']),
    // `bundled` unless the bench is told otherwise: the same WordPress in every run and on every machine.
    '--wordpress-version', opts.wordpressVersion,
    '--log-level', 'warn',
  ];
  // As the launcher starts it (flags and environment), so the bench measures what users run.
  const child = spawnChild(spec.name, process.execPath, [...SERVER_NODE_FLAGS, ...args], { cwd: opts.projectRoot, env: { ...withMallocTunable(process.env), ...spec.env }, logFile: spec.logFile, marker: dir });
  const stop = () => stopChild(child, 12_000);
  return {
    child,
    url,
    dir,
    stop,
    async ready() {
      try {
        // The port answers before the unattended install is done; wp-login.php is 200 only after it.
        await waitFor200(`${url}/wp-login.php`, child, opts.startTimeoutMs);
        if (opts.adminPort !== undefined) await waitForWarmWorkers(`http://${HOST}:${opts.adminPort}/metrics`, opts.workers, child, opts.startTimeoutMs);
      } catch (error) {
        await stop();
        throw error;
      }
      writeBenchScripts(dir);
    },
  };
}

function oursTarget(opts: OursOptions, proc: OursProcess, notes: string[], started: number): Target {
  notes.push(opts.pageCache ? PAGE_CACHE_ON_NOTE : PAGE_CACHE_NOTE);
  return {
    name: 'ours',
    label: `php-wasm-server (${opts.workers} workers)`,
    workers: opts.workers,
    baseUrl: proc.url,
    wordpressDir: proc.dir,
    rss: () => treeRss([proc.child.pid]),
    children: [proc.child],
    logFiles: [proc.child.logFile],
    notes,
    startSeconds: (performance.now() - started) / 1000,
    stop: proc.stop,
    recycles: opts.adminPort !== undefined ? () => recycledWorkers(`http://${HOST}:${opts.adminPort}/metrics`) : undefined,
    atRest: opts.adminPort !== undefined ? () => serverAtRest(`http://${HOST}:${opts.adminPort}/metrics`, opts.workers) : undefined,
  };
}
