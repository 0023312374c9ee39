/**
 * The native reference: nginx + php-fpm from Debian's packages, started by the bench as foreground
 * child processes with its own configs, serving a copy of our WordPress tree on loopback ports.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnChild, stopChild, type Child } from './children.js';
import { nginxConf, PHP_FPM_INI_ARGS, phpFpmConf, type NativeConfigInput } from './native-config.js';
import type { NativeBinaries } from './native-packages.js';
import type { DbConnection } from './mariadb.js';
import { nativeDbFile, prepareNativeMysqlTree, prepareNativeTree } from './native-tree.js';
import { freePort, HOST, secondsToFirstPage, waitFor200 } from './loopback.js';
import { PAGE_CACHE_TTL_SECONDS } from './native-page-cache.js';
import { fpmRecycles } from './recycle-count.js';
import { treeRss } from './rss.js';
import { installWordPress, siteAddress, writeBenchScripts } from './site.js';
import { choosePort, rememberPort } from './site-ports.js';
import type { Target } from './target.js';

export interface NativeOptions {
  bin: NativeBinaries;
  dataDir: string;
  /** Our server's WordPress tree, copied for nginx + php-fpm. */
  sourceDir: string;
  children: number;
  startTimeoutMs: number;
  /** MySQL instead of SQLite: an empty database (new every run), so the site is always installed. */
  db?: DbConnection;
  /** nginx's fastcgi_cache on, set up as our page cache (the page-cache scenario). */
  pageCache?: boolean;
  /** Also time spawn → first 200 home page (on a site already installed). */
  timeFirstPage?: boolean;
  /** pm.max_requests (php-fpm's recycling); none without it. */
  maxRequests?: number;
}

export async function startNative(opts: NativeOptions): Promise<Target> {
  const { bin } = opts;
  const notes: string[] = [];
  const base = join(opts.dataDir, opts.db ? 'native-mariadb' : 'native');
  const root = join(base, 'wordpress');
  const { copied } = opts.db ? prepareNativeMysqlTree(opts.sourceDir, root, opts.db) : prepareNativeTree(opts.sourceDir, root);
  if (copied) notes.push(`copied ${opts.sourceDir} to ${root}`);
  writeBenchScripts(root);

  const dbFile = nativeDbFile(root);
  // A MySQL site is installed anew every run, at whichever port is free.
  const { port: nginxPort, note } = opts.db ? { port: await freePort(), note: undefined } : await choosePort(opts.dataDir, 'native', dbFile);
  if (note) notes.push(note);
  let fpmPort = await freePort();
  while (fpmPort === nginxPort) fpmPort = await freePort();
  const needsInstall = opts.db !== undefined || !existsSync(dbFile);

  const config: NativeConfigInput = {
    root,
    nginxPort,
    fpmPort,
    children: opts.children,
    runDir: join(base, 'run'),
    logDir: join(opts.dataDir, 'logs'),
    asRoot: process.getuid?.() === 0,
    pageCacheDir: opts.pageCache ? join(base, 'run', 'page-cache') : undefined,
    maxRequests: opts.maxRequests,
  };
  // A cache left by an earlier start would answer before PHP ever ran.
  if (config.pageCacheDir) rmSync(config.pageCacheDir, { recursive: true, force: true });
  for (const dir of [config.runDir, config.logDir, join(base, 'conf')]) mkdirSync(dir, { recursive: true });
  const nginxFile = join(base, 'conf', 'nginx.conf');
  const fpmFile = join(base, 'conf', 'php-fpm.conf');
  writeFileSync(nginxFile, nginxConf(config));
  writeFileSync(fpmFile, phpFpmConf(config));

  const started = performance.now();
  const children: Child[] = [];
  const stop = async () => {
    await Promise.all(children.map((child) => stopChild(child, 5000)));
  };
  try {
    children.push(
      spawnChild('php-fpm', bin.phpFpm, ['-F', '-y', fpmFile, ...PHP_FPM_INI_ARGS, ...(config.asRoot ? ['-R'] : [])], {
        logFile: join(config.logDir, 'php-fpm.out'),
        marker: fpmFile,
      }),
    );
    children.push(
      spawnChild('nginx', bin.nginx, ['-p', config.runDir, '-e', join(config.logDir, 'nginx-error.log'), '-c', nginxFile, '-g', 'daemon off;'], {
        logFile: join(config.logDir, 'nginx.out'),
        marker: nginxFile,
      }),
    );
    const baseUrl = `http://${HOST}:${nginxPort}`;
    const firstPageSeconds = opts.timeFirstPage && !needsInstall ? await secondsToFirstPage(baseUrl, children, started, opts.startTimeoutMs) : undefined;
    // 200 from install.php once nginx and php-fpm both answer (installed or not).
    await waitFor200(`${baseUrl}/wp-admin/install.php`, children, opts.startTimeoutMs);
    if (needsInstall) {
      await installWordPress(baseUrl);
      notes.push(`installed WordPress at ${baseUrl} (wp-admin/install.php?step=2)`);
    }
    await waitFor200(`${baseUrl}/wp-login.php`, children, opts.startTimeoutMs);
    const address = await siteAddress(baseUrl);
    if (address !== baseUrl && opts.db) throw new Error(`native WordPress installed at ${baseUrl} reports its address as ${address}`);
    if (address !== baseUrl) {
      // Installed at another address (e.g. by an older bench whose nginx dropped the port): again.
      rmSync(dbFile, { force: true });
      await installWordPress(baseUrl);
      notes.push(`WordPress was installed at ${address}: reinstalled at ${baseUrl}`);
    }
    if (!opts.db) rememberPort(opts.dataDir, 'native', nginxPort);
    if (opts.pageCache) notes.push(`fastcgi_cache on (${PAGE_CACHE_TTL_SECONDS} s, bypassed as ours is: bench/native-page-cache.ts), X-Cache from $upstream_cache_status`);
    return {
      name: 'native',
      label: `nginx ${nginxVersion(bin.nginx)} + php-fpm ${bin.phpFpmVersion} (${opts.children} children, pm=static${opts.maxRequests ? `, pm.max_requests=${opts.maxRequests}` : ''})`,
      workers: opts.children,
      baseUrl,
      wordpressDir: root,
      rss: () => treeRss(children.map((c) => c.pid)),
      children,
      logFiles: [
        ...children.map((c) => c.logFile),
        ...['nginx-error.log', 'php-fpm.log', 'php-errors.log'].map((f) => join(config.logDir, f)),
      ],
      notes,
      startSeconds: (performance.now() - started) / 1000,
      firstPageSeconds,
      stop,
      recycles: () => fpmRecycles(join(config.logDir, 'php-fpm.log')),
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

export function nginxVersion(nginx: string): string {
  const result = spawnSync(nginx, ['-v'], { encoding: 'utf8', timeout: 10_000 });
  return /nginx\/(\S+)/.exec(result.stderr ?? '')?.[1] ?? '?';
}
