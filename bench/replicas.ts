/**
 * Ours as several processes on one MySQL site, as deploy/compose.yaml runs it on several machines:
 * each process with its own WordPress tree and sessions, one shared uploads folder, the same site
 * URL (the load balancer's address), all on one database; Debian's nginx in front, round robin.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { balancerConf } from './balancer-config.js';
import { spawnChild, stopChild } from './children.js';
import { freePort, HOST, waitFor200 } from './loopback.js';
import type { DbConnection } from './mariadb.js';
import { nginxVersion } from './native.js';
import { installedVersion } from '../server/wordpress/assemble.js';
import { spawnOursMysql, PAGE_CACHE_NOTE, type OursMysqlSite, type OursOptions } from './ours.js';
import { treeRss } from './rss.js';
import type { Target } from './target.js';

/** Where process `index` of the bench's MySQL site keeps its files (process 0 is also ours × 1). */
export function mysqlSite(dataDir: string, index: number, db: DbConnection, port: number, siteUrl: string): OursMysqlSite {
  const base = join(dataDir, 'ours-mariadb');
  const name = `replica-${index}`;
  return { name, dir: join(base, name, 'wordpress'), sessions: join(base, name, 'sessions'), uploads: join(base, 'uploads'), db, port, siteUrl };
}

export interface ReplicasOptions extends OursOptions {
  count: number;
  /** The WordPress version ours (measured before) holds: the replicas must hold the same. */
  sameWordPressAs?: string;
  nginx: string;
  db: DbConnection;
}

/**
 * Each replica assembles its own tree, so with `latest` (or offline, falling back to the bundled
 * build) they could hold different versions on one database: the run would measure a mix.
 */
export function sameWordPress(dirs: string[], expected: string | undefined): void {
  const versions = dirs.map((dir) => installedVersion(dir));
  if (new Set([...versions, ...(expected ? [expected] : [])]).size > 1) {
    throw new Error(`the replicas' WordPress trees differ (${dirs.map((dir, i) => `${dir}: ${versions[i]}`).join(', ')}${expected ? `; ours: ${expected}` : ''}): delete their data folders or use --fresh`);
  }
}

export async function startReplicas(opts: ReplicasOptions): Promise<Target> {
  const ports = await distinctFreePorts(opts.count + 1);
  const listenPort = ports.pop()!;
  const siteUrl = `http://${HOST}:${listenPort}`;
  const sites = ports.map((port, i) => mysqlSite(opts.dataDir, i, opts.db, port, siteUrl));
  const assembling = sites.filter((site) => !existsSync(join(site.dir, 'wp-settings.php')));
  const started = performance.now();
  const procs = sites.map((site) => spawnOursMysql(opts, site));
  const runDir = join(opts.dataDir, 'balancer');
  const logDir = join(opts.dataDir, 'logs');
  for (const dir of [runDir, logDir]) mkdirSync(dir, { recursive: true });
  const confFile = join(runDir, 'nginx.conf');
  writeFileSync(confFile, balancerConf({ listenPort, upstreamPorts: ports, runDir, logDir, asRoot: process.getuid?.() === 0 }));
  const children = procs.map((p) => p.child);
  const stop = async () => {
    await Promise.all(children.map((child) => stopChild(child, 12_000)));
  };
  try {
    await Promise.all(procs.map((p) => p.ready()));
    sameWordPress(sites.map((site) => site.dir), opts.sameWordPressAs);
    children.push(
      spawnChild('balancer', opts.nginx, ['-p', runDir, '-e', join(logDir, 'balancer-error.log'), '-c', confFile, '-g', 'daemon off;'], {
        logFile: join(logDir, 'balancer.out'),
        marker: confFile,
      }),
    );
    await waitFor200(`${siteUrl}/wp-login.php`, children, opts.startTimeoutMs);
  } catch (error) {
    await stop();
    throw error;
  }
  const workers = opts.count * opts.workers;
  return {
    name: 'replicas',
    label: `${opts.count} × php-wasm-server (${opts.workers} workers each, ${workers} in all) behind nginx ${nginxVersion(opts.nginx)} (round robin, keep-alive upstreams)`,
    workers,
    baseUrl: siteUrl,
    wordpressDir: sites[0].dir,
    rss: () => treeRss(children.map((c) => c.pid)),
    children,
    warmupScale: opts.count,
    logFiles: [...children.map((c) => c.logFile), join(logDir, 'balancer-error.log')],
    notes: [
      `each process has its own WordPress tree (${sites.map((s) => s.dir).join(', ')}); uploads shared (${sites[0].uploads}); site URL ${siteUrl} on all`,
      ...(assembling.length ? [`first run: WordPress assembled into ${assembling.map((s) => s.dir).join(', ')}`] : []),
      'its CPU and memory include the balancer nginx',
      `warm-up ${opts.count} × --warmup and --warmup-requests before each measurement: each process gets what a single one gets`,
      PAGE_CACHE_NOTE,
    ],
    startSeconds: (performance.now() - started) / 1000,
    stop,
  };
}

async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}
