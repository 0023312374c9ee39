/**
 * Our server, started exactly as a user starts it: `node dist/server/cli.js wordpress ...` as a
 * child process. The first run assembles WordPress into the bench's data folder and the site flags
 * install it unattended; later runs reuse both.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnChild, stopChild } from './children.js';
import { HOST, waitFor200 } from './loopback.js';
import { treeRss } from './rss.js';
import { SITE, writeBenchScripts } from './site.js';
import { choosePort, rememberPort } from './site-ports.js';
import type { Target } from './target.js';

export interface OursOptions {
  projectRoot: string;
  dataDir: string;
  workers: number;
  startTimeoutMs: number;
}

export async function startOurs(opts: OursOptions): Promise<Target> {
  const dir = join(opts.dataDir, 'ours', 'wordpress');
  const sessions = join(opts.dataDir, 'ours', 'sessions');
  const notes: string[] = [];
  const assembling = !existsSync(join(dir, 'wp-settings.php'));
  if (assembling) notes.push(`first run: WordPress assembled into ${dir}`);
  const { port, note } = await choosePort(opts.dataDir, 'ours', join(dir, 'wp-content', 'database', '.ht.sqlite'));
  if (note) notes.push(note);
  mkdirSync(sessions, { recursive: true });

  const cli = join(opts.projectRoot, 'dist', 'server', 'cli.js');
  const args = [
    cli, 'wordpress',
    '--dir', dir,
    '--session-dir', sessions,
    '--port', String(port),
    '--host', HOST,
    // The address the load generator uses: the page's links are checked against it.
    '--site-url', `http://${HOST}:${port}`,
    '--workers', String(opts.workers),
    '--site-title', SITE.title,
    '--admin-user', SITE.adminUser,
    '--admin-password', SITE.adminPassword,
    '--admin-email', SITE.adminEmail,
    '--cron-interval', '0',
    // The same WordPress in every run and on every machine, so runs compare.
    '--wordpress-version', 'bundled',
    '--log-level', 'warn',
  ];
  const started = performance.now();
  const child = spawnChild('php-wasm-server', process.execPath, args, {
    cwd: opts.projectRoot,
    logFile: join(opts.dataDir, 'logs', 'ours.log'),
    marker: dir,
  });
  const baseUrl = `http://${HOST}:${port}`;
  const stop = () => stopChild(child, 12_000);
  try {
    // The port answers before the unattended install is done; wp-login.php is 200 only after it.
    await waitFor200(`${baseUrl}/wp-login.php`, child, opts.startTimeoutMs);
  } catch (error) {
    await stop();
    throw error;
  }
  rememberPort(opts.dataDir, 'ours', port);
  writeBenchScripts(dir);
  return {
    name: 'ours',
    label: `php-wasm-server (${opts.workers} workers)`,
    baseUrl,
    wordpressDir: dir,
    rss: () => treeRss([child.pid]),
    children: [child],
    logFiles: [child.logFile],
    notes,
    startSeconds: (performance.now() - started) / 1000,
    stop,
  };
}
