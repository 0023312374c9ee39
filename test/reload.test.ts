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
import { FIXTURE_DOCROOT, tempDir } from './helpers/server.js';
import { until } from './helpers/until.js';


t.test('SIGHUP: new settings reach PHP with no failed request; a broken file or a restart-only change keeps what runs', async (t) => {
  const file = join(tempDir(t, 'pws-reload-'), 'server.json');
  const writeConfig = (config: object | string) => writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
  writeConfig({ env: { GREETING: 'one' } });
  const port = await freePort();
  const cli = runCli(['--config', file, '--docroot', FIXTURE_DOCROOT, '--port', String(port), '--workers', '2'], { PHP_WASM_SERVER_LOG_LEVEL: 'info' });
  const url = await cli.listening;
  const greeting = async () => ((await (await fetch(`${url}/greeting.php`)).json()) as { greeting: string }).greeting;
  t.equal(await greeting(), 'one');
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
  writeConfig({ env: { GREETING: 'two' } });
  cli.child.kill('SIGHUP');
  await until('the reload to finish', () => logged('reload done') === 1);
  const during = statuses.length;
  await until('requests after the reload', () => statuses.length > during + 8);
  loading = false;
  await Promise.all(clients);
  t.ok(during > 0, `${statuses.length} requests during and after the reload`);
  t.same(statuses.filter((status) => status !== 200), [], 'not one failed');
  t.equal(await greeting(), 'two', 'PHP sees the new setting');
  t.equal((await greeting()), 'two', 'on every worker');
  t.match(cli.lines.find((line) => line.msg === 'reload done'), { settings: ['env'] });

  writeConfig('{ "env": ');
  cli.child.kill('SIGHUP');
  await until('the refusal', () => logged('reload refused; the running configuration stays') === 1);
  t.equal(await greeting(), 'two', 'a file that does not parse changes nothing');

  writeConfig({ env: { GREETING: 'three' }, compress: false });
  cli.child.kill('SIGHUP');
  await until('the second reload', () => logged('reload done') === 2);
  t.match(cli.lines.find((line) => String(line.msg).startsWith('reload: these settings need a restart')), { settings: ['compress'] }, 'compression (built into the HTTP layer) needs a restart, and says so');
  t.equal(await greeting(), 'three', 'the rest applies');

  cli.child.kill('SIGTERM');
  t.equal(await cli.exit, 0, 'SIGTERM still drains and exits 0');
});
