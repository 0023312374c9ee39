/**
 * SIGHUP reloads the configuration of a running server (a real child process): new workers take
 * the new settings one at a time while requests keep being served; a configuration that does not
 * load is logged and the running one stays; settings that need a restart are named and kept.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runCli } from './helpers/cli.js';
import { freePort } from './helpers/ports.js';
import { FIXTURE_DOCROOT, startTestServer, tempDir } from './helpers/server.js';
import { until } from './helpers/until.js';


t.test('SIGHUP: new settings reach PHP with no failed request; a broken file or a restart-only change keeps what runs', async (t) => {
  const file = join(tempDir(t, 'pws-reload-'), 'server.json');
  const writeConfig = (config: object | string) => writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
  writeConfig({ env: { GREETING: 'one' }, ini: { user_agent: 'agent-one' } });
  const port = await freePort();
  const cli = runCli(['--config', file, '--docroot', FIXTURE_DOCROOT, '--port', String(port), '--workers', '2'], { PHP_WASM_SERVER_LOG_LEVEL: 'info' });
  const url = await cli.listening;
  const served = async () => (await (await fetch(`${url}/greeting.php`)).json()) as { greeting: string; ini: string };
  const greeting = async () => (await served()).greeting;
  t.match(await served(), { greeting: 'one', ini: 'agent-one' }, 'env and php.ini setting from the file');
  const logged = (msg: string) => cli.lines.filter((line) => line.msg === msg).length;

  // Clients keep asking throughout the reload.
  let loading = true;
  const statuses: number[] = [];
  const clients = Array.from({ length: 4 }, async () => {
    while (loading) {
      const response = await fetch(`${url}/greeting.php`).catch(() => null);
      statuses.push(response?.status ?? 0);
      await response?.arrayBuffer();
    }
  });
  writeConfig({ env: { GREETING: 'two' }, ini: { user_agent: 'agent-two' } });
  cli.child.kill('SIGHUP');
  await until('the reload to finish', () => logged('reload done') === 1);
  const during = statuses.length;
  await until('requests after the reload', () => statuses.length > during + 8);
  loading = false;
  await Promise.all(clients);
  t.ok(during > 0, `${during} requests during the reload, ${statuses.length} with those after it`);
  t.same(statuses.filter((status) => status !== 200), [], 'not one failed');
  t.match(await served(), { greeting: 'two', ini: 'agent-two' }, 'PHP sees the new settings');
  t.match(await served(), { greeting: 'two', ini: 'agent-two' }, 'on every worker');
  t.match(cli.lines.find((line) => line.msg === 'reload done'), { settings: ['env', 'ini'] });

  writeConfig('{ "env": ');
  cli.child.kill('SIGHUP');
  await until('the refusal', () => logged('reload refused; the running configuration stays') === 1);
  t.match(cli.lines.find((line) => line.msg === 'reload refused; the running configuration stays'), { level: 50, reason: /readable JSON file/ }, 'one error line saying why');
  t.match(await served(), { greeting: 'two', ini: 'agent-two' }, 'a file that does not parse changes nothing');

  writeConfig({ env: { GREETING: 'three' }, compress: false });
  cli.child.kill('SIGHUP');
  await until('the second reload', () => logged('reload done') === 2);
  t.match(cli.lines.find((line) => String(line.msg).startsWith('reload: these settings need a restart')), { settings: ['compress'] }, 'compression (built into the HTTP layer) needs a restart, and says so');
  t.equal(await greeting(), 'three', 'the rest applies');

  cli.child.kill('SIGTERM');
  t.equal(await cli.exit, 0, 'SIGTERM still drains and exits 0');
});

t.test('SIGHUP while a worker is still starting (it booted with the old settings): it is replaced too', async (t) => {
  const file = join(tempDir(t, 'pws-reload-'), 'server.json');
  const writeConfig = (config: object) => writeFileSync(file, JSON.stringify(config));
  writeConfig({ env: { GREETING: 'old' }, requestTimeout: 1 });
  const port = await freePort();
  const cli = runCli(['--config', file, '--docroot', FIXTURE_DOCROOT, '--port', String(port), '--workers', '1'], { PHP_WASM_SERVER_LOG_LEVEL: 'info' });
  const url = await cli.listening;
  // The only worker times out and is ended; its replacement boots, with the settings of now.
  t.equal((await fetch(`${url}/loop.php`)).status, 504);
  writeConfig({ env: { GREETING: 'new' }, requestTimeout: 1 });
  cli.child.kill('SIGHUP');
  await until('the reload to finish', () => cli.lines.some((line) => line.msg === 'reload done'));
  const served = (await (await fetch(`${url}/greeting.php`)).json()) as { greeting: string };
  t.equal(served.greeting, 'new', 'the worker that was starting during the reload no longer serves');
  cli.child.kill('SIGTERM');
  t.equal(await cli.exit, 0);
});

t.test('a reload changes the number of workers: more start, the surplus leaves once idle, no request fails', async (t) => {
  const server = await startTestServer({ workers: 1, maxRequests: 1900 }); // no recycling in between
  t.teardown(() => server.close());
  const pidsServed = new Set<number>();
  const statuses: number[] = [];
  let loading = true;
  const clients = Array.from({ length: 3 }, async () => {
    while (loading) {
      const response = await fetch(`${server.url}/greeting.php`).catch(() => null);
      statuses.push(response?.status ?? 0);
      if (response?.ok) pidsServed.add(((await response.json()) as { pid: number }).pid);
    }
  });

  await server.reload({ ...server.config, workers: 3 });
  t.equal(server.pool.stats.workers, 3, 'three workers once the reload is done');
  await until('requests served by the added workers', () => pidsServed.size === 3);

  await server.reload({ ...server.config, workers: 1 });
  await until('the surplus to leave', () => server.pool.stats.workers === 1);
  const during = statuses.length;
  await until('requests with one worker', () => statuses.length > during + 8);
  loading = false;
  await Promise.all(clients);
  t.same(statuses.filter((status) => status !== 200), [], `${statuses.length} requests, not one failed`);
  t.equal(server.pool.stats.workers, 1, 'still one worker under load');
  t.equal(server.logs.filter((line) => line.msg === 'recycling php worker').length, 0, 'only the size changed: no worker was replaced');
});
