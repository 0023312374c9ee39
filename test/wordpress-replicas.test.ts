/**
 * Several machines' worth of WordPress on this one: a real MariaDB, three `php-wasm-server wordpress`
 * processes (each with its own code folder, one shared uploads folder, the same site URL) and
 * Debian's nginx in front, running deploy/nginx/wordpress.conf (the Compose file's load balancer).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { runCli, type Run } from './helpers/cli.js';
import { renderDeployNginx } from './helpers/deploy-nginx.js';
import { mariadbAvailable, startMariaDb } from './helpers/mariadb.js';
import { nginxAvailable } from './helpers/nginx.js';
import { freePort } from './helpers/ports.js';
import { tempDir } from './helpers/server.js';
import { until } from './helpers/until.js';
import { logIn, restNonce } from './helpers/wordpress.js';
import { reportSetupFailures } from './helpers/setup-failures.js';

reportSetupFailures();

if (!mariadbAvailable() || !nginxAvailable()) throw new Error('mariadb-server and nginx are required (.ci/run installs them)');

const REPLICAS = 3;
const CRON_INTERVAL = 2;
const PASSWORD = 'replica-admin-pw-1';
const root = tempDir(t, 'pws-replicas-');
const maria = await startMariaDb();
t.teardown(() => maria.close());
maria.createDatabase('site', 'wp', 'db-password');
const sql = (query: string) => maria.query(query, 'site');

const uploads = join(root, 'uploads');
mkdirSync(uploads);
const ports = await Promise.all(Array.from({ length: REPLICAS }, () => freePort()));
const nginxPort = await freePort();
const siteUrl = `http://127.0.0.1:${nginxPort}`;
const replicaUrl = (i: number) => `http://127.0.0.1:${ports[i]}`;
const replicaDir = (i: number) => join(root, `replica-${i}`, 'wordpress');

function startReplica(i: number): Run {
  return runCli([
    'wordpress', '--dir', replicaDir(i), '--session-dir', join(root, `replica-${i}`, 'sessions'), '--opcache-file-cache', join(root, `replica-${i}`, 'opcache'), '--port', String(ports[i]),
    '--db', `mysql://wp@127.0.0.1:${maria.port}/site`, '--uploads', uploads, '--site-url', siteUrl, '--file-mods', 'false',
    '--trust-proxy', 'loopback', '--cron-interval', String(CRON_INTERVAL), '--workers', '2',
    '--wordpress-version', 'bundled', '--wordpress-org', 'false',
    '--site-title', 'Replicated', '--admin-user', 'admin', '--admin-password', PASSWORD, '--admin-email', 'admin@example.com',
  ], { WORDPRESS_DB_PASSWORD: 'db-password' });
}

const replicas = Array.from({ length: REPLICAS }, (_, i) => startReplica(i));
await Promise.all(replicas.map((replica, i) => Promise.race([
  replica.listening,
  replica.exit.then((code) => { throw new Error(`replica ${i} exited (${code}): ${replica.stderr()}\n${replica.lines.slice(-10).map((line) => JSON.stringify(line)).join('\n')}`); }),
])));
const installLines = (run: Run) => run.lines.filter((line) => ['WordPress installed', 'WordPress already installed', 'unattended WordPress install failed'].includes(line.msg as string));
await until('every replica to try the unattended install', () => replicas.every((replica) => installLines(replica).length > 0), 120_000);

// nginx as the Compose file runs it, the three replicas as its upstreams.
const nginxDir = join(root, 'nginx');
mkdirSync(nginxDir);
writeFileSync(join(nginxDir, 'nginx.conf'), renderDeployNginx({ listenPort: nginxPort, upstreamPorts: ports, tempDir: nginxDir }));
const nginx = spawn('/usr/sbin/nginx', ['-p', nginxDir, '-c', join(nginxDir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
let nginxErrors = '';
nginx.stderr.on('data', (chunk) => { nginxErrors += chunk; });
const nginxExited = new Promise((resolve) => nginx.on('exit', resolve));
process.once('exit', () => { if (nginx.exitCode === null) nginx.kill('SIGKILL'); });
t.teardown(async () => { if (nginx.exitCode === null) nginx.kill('SIGTERM'); await nginxExited; });
await until('nginx to listen', async () => {
  if (nginx.exitCode !== null) throw new Error(`nginx exited: ${nginxErrors}`);
  return new Promise<boolean>((resolve) => {
    const socket = connect(nginxPort, '127.0.0.1', () => { socket.destroy(); resolve(true); });
    socket.on('error', () => resolve(false));
  });
});

t.test('one replica installs; the others find the site installed', async (t) => {
  const lines = replicas.flatMap(installLines).map((line) => line.msg);
  t.same(lines.sort(), ['WordPress already installed', 'WordPress already installed', 'WordPress installed']);
  t.same(sql("SELECT COUNT(*) FROM wp_users"), [['1']], 'one administrator');
});

t.test('3 × 8 concurrent writers post through nginx; every post exists exactly once', async (t) => {
  const admin = await logIn(siteUrl, 'admin', PASSWORD);
  const nonce = await restNonce(admin);
  const statuses: number[] = [];
  await Promise.all(Array.from({ length: REPLICAS * 8 }, async (_, writer) => {
    for (let n = 0; n < 2; n++) {
      const response = await admin.request('/?rest_route=/wp/v2/posts', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-wp-nonce': nonce },
        body: JSON.stringify({ title: `writer-${writer}-post-${n}`, content: 'x', status: 'publish' }),
      });
      await response.arrayBuffer();
      statuses.push(response.status);
    }
  }));
  t.same(statuses.filter((status) => status !== 201), [], 'every POST created its post');
  const rows = sql("SELECT post_title, COUNT(*) FROM wp_posts WHERE post_type = 'post' AND post_title LIKE 'writer-%' GROUP BY post_title");
  t.equal(rows.length, REPLICAS * 8 * 2, 'every post is there');
  t.same(rows.filter(([, count]) => count !== '1'), [], 'none twice');
  const served = replicas.map((replica) => replica.lines.filter((line) => line.method === 'POST' && String(line.path).includes('wp/v2/posts')).length);
  t.ok(served.every((count) => count > 0), `each replica took some of the writes (${served.join(', ')})`);
});

t.test('a login made through one replica is valid on the others; an upload through one is served by the others', async (t) => {
  const viaFirst = await logIn(replicaUrl(0), 'admin', PASSWORD);
  for (let i = 0; i < REPLICAS; i++) {
    const profile = await viaFirst.at(replicaUrl(i)).get('/wp-admin/profile.php');
    t.equal(profile.status, 200, `replica ${i} accepts the login cookie`);
    await profile.arrayBuffer();
  }
  const nonce = await restNonce(viaFirst);
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
  const upload = await viaFirst.request('/?rest_route=/wp/v2/media', {
    method: 'POST',
    headers: { 'content-type': 'image/png', 'content-disposition': 'attachment; filename="shared-pixel.png"', 'x-wp-nonce': nonce },
    body: png,
  });
  const media = await upload.json() as { source_url?: string };
  t.equal(upload.status, 201, 'uploaded through replica 0');
  const path = new URL(String(media.source_url)).pathname;
  t.match(path, /^\/wp-content\/uploads\/.*shared-pixel.*\.png$/);
  for (let i = 1; i < REPLICAS; i++) {
    const response = await fetch(`${replicaUrl(i)}${path}`);
    t.equal(response.status, 200, `replica ${i} serves it`);
    t.same(Buffer.from(await response.arrayBuffer()), png, 'the same bytes');
  }
  t.same(readFileSync(join(uploads, path.replace('/wp-content/uploads/', ''))), png, 'written to the shared uploads folder');
});

t.test('kill -9 of one replica under load: nginx routes around it, and the restarted replica rejoins', async (t) => {
  let killed = false;
  let stop = false;
  const results: Array<{ ok: boolean; startedAfterKill: boolean; detail: string }> = [];
  const clients = Array.from({ length: 6 }, async () => {
    while (!stop) {
      const startedAfterKill = killed;
      try {
        const response = await fetch(`${siteUrl}/`, { signal: AbortSignal.timeout(30_000) });
        const body = await response.text();
        results.push({ ok: response.status === 200 && body.includes('Replicated'), startedAfterKill, detail: String(response.status) });
      } catch (error) {
        results.push({ ok: false, startedAfterKill, detail: String(error) });
      }
    }
  });
  try {
    await until('load before the kill', () => results.length >= 12, 60_000);
    replicas[1].child.kill('SIGKILL');
    killed = true;
    await replicas[1].exit;
    await until('60 requests after the kill', () => results.filter((r) => r.startedAfterKill).length >= 60, 120_000);
  } finally {
    stop = true;
    await Promise.all(clients);
  }
  const after = results.filter((r) => r.startedAfterKill);
  t.same(after.filter((r) => !r.ok).map((r) => r.detail), [], `all ${after.length} requests sent after the kill succeeded`);
  t.comment(`requests before the kill: ${results.length - after.length} (${results.filter((r) => !r.startedAfterKill && !r.ok).length} failed)`);

  const restarted = startReplica(1);
  replicas[1] = restarted;
  await restarted.listening;
  const servedByRestarted = () => restarted.lines.some((line) => line.path === '/' && line.status === 200 && line.method === 'GET' && line.msg === 'request');
  // nginx tries a failed upstream again once its fail_timeout has passed: keep sending until it does.
  await until('nginx to send requests to the restarted replica', async () => {
    const response = await fetch(`${siteUrl}/`);
    await response.arrayBuffer();
    return servedByRestarted();
  }, 90_000);
  t.pass('the restarted replica serves requests from nginx again');
});

t.test('WP-Cron runs on one replica at a time, once per interval, not once per replica', async (t) => {
  sql('CREATE TABLE cron_runs (at DOUBLE NOT NULL, replica VARCHAR(16) NOT NULL)');
  for (let i = 0; i < REPLICAS; i++) {
    mkdirSync(join(replicaDir(i), 'wp-content', 'mu-plugins'), { recursive: true });
    writeFileSync(join(replicaDir(i), 'wp-content', 'mu-plugins', 'record-cron.php'),
      `<?php if (defined('DOING_CRON') && DOING_CRON) { $GLOBALS['wpdb']->insert('cron_runs', ['at' => microtime(true), 'replica' => 'replica-${i}']); }\n`);
  }
  const runs = () => sql('SELECT at, replica FROM cron_runs ORDER BY at').map(([at, replica]) => ({ at: Number(at), replica }));
  await until('six cron runs', () => runs().length >= 6, 120_000);
  const recorded = runs();
  const gaps = recorded.slice(1).map((run, i) => run.at - recorded[i].at);
  t.comment(`cron runs: ${recorded.map((run) => run.replica).join(', ')}; gaps ${gaps.map((gap) => gap.toFixed(2)).join(', ')} s`);
  // Unlocked, three timers every 2 s would run cron about three times per interval (gaps well under 1 s).
  t.ok(Math.min(...gaps) >= CRON_INTERVAL / 2, `runs are at least half an interval apart (smallest gap ${Math.min(...gaps).toFixed(2)} s)`);
});

t.test('memory of a replica after the load (for the Kubernetes resource requests)', async (t) => {
  for (const [i, replica] of replicas.entries()) {
    const status = readFileSync(`/proc/${replica.child.pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    t.ok(rss > 0, `replica ${i}: RSS ${rss.toFixed(0)} MB (2 workers)`);
  }
});
