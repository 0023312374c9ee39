/**
 * The public port opens while the first worker boots, except where a visitor served then could take
 * a site over: a WordPress site whose installer the server is about to submit.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { listensWhileBooting } from '../server/wordpress/start.js';
import { freePort } from './helpers/ports.js';
import { bootTestServer, tempDir } from './helpers/server.js';
import { until } from './helpers/until.js';

t.test('WordPress listens while booting unless its installer may still be submitted', async (t) => {
  const sqlite = { kind: 'sqlite' } as const;
  const mysql = { kind: 'mysql' } as unknown as Parameters<typeof listensWhileBooting>[1]['database'];
  t.equal(listensWhileBooting(true, { adminUser: 'admin', database: sqlite }), false, 'a site just assembled, with an unattended install');
  t.equal(listensWhileBooting(false, { adminUser: 'admin', database: mysql }), false, 'a shared MySQL database another replica may not have installed');
  t.equal(listensWhileBooting(false, { adminUser: 'admin', database: sqlite }), true, 'an existing SQLite site (installed at its first start)');
  t.equal(listensWhileBooting(true, { adminUser: undefined, database: sqlite }), true, 'no unattended install: the owner installs it in the browser anyway');
});

t.test('with listenWhileBooting false, the public port opens only once the first worker is warm', async (t) => {
  const data = tempDir(t, 'pws-listen-');
  writeFileSync(join(data, 'gate'), '');
  const port = await freePort();
  const boot = bootTestServer({ workers: 1, port, warmup: ['/warmup-gate.php'], mounts: [{ host: data, guest: '/data', readOnly: false }] }, {}, { listenWhileBooting: false });
  t.teardown(async () => {
    rmSync(join(data, 'gate'), { force: true });
    await (await boot.server).close();
  });
  // Booted, so warming up behind the gate: a server listening while booting listens by now.
  await until('the worker to boot', () => boot.logs.some((l) => l.msg === 'php worker booted'), 60_000);
  const refused = await fetch(`http://127.0.0.1:${port}/greeting.php`).then(() => 'answered', (error: Error & { cause?: { code?: string } }) => error.cause?.code);
  t.equal(refused, 'ECONNREFUSED', 'nothing listens while the only worker warms up');
  rmSync(join(data, 'gate'));
  const running = await boot.server;
  t.equal((await fetch(`${running.url}/greeting.php`)).status, 200, 'it listens once warm');
});
