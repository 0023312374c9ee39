/**
 * The `php-wasm-server` command as users and scripts run it: a real child process, real signals.
 */
import { rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { FIXTURE_DOCROOT, tempDir } from './helpers/server.js';
import { freePort } from './helpers/ports.js';
import { runCli as run } from './helpers/cli.js';
import { until } from './helpers/until.js';

t.test('bad settings: one line naming the key, exit code 2, nothing listens', async (t) => {
  const port = await freePort();
  // A session folder planted in advance as a symlink (to a folder the planter can read).
  const planted = join(tempDir(t), 'sessions');
  symlinkSync(tempDir(t), planted);
  for (const [args, env, key] of [
    [['--port', 'eighty'], {}, 'port'],
    [['--workers', '0'], {}, 'workers'],
    [['--max-body', 'lots'], {}, 'maxBody'],
    [['--docroot', '/no/such/folder'], {}, 'docroot'],
    [['--bogus-flag', '1'], {}, 'arguments'],
    [['--trust-proxy', 'not-an-address'], {}, 'trustProxy'],
    [['--mount', '/no/such/folder:/data'], {}, 'mounts'],
    [['--smtp', 'http://mail.example.com'], {}, 'smtp'],
    [['--smtp', 'smtp://wp@mail.example.com'], {}, 'smtp'],
    [['wordpress', '--trust-proxy', '10.0.0.0/33'], {}, 'trustProxy'],
    [['--port', String(port)], { PHP_WASM_SERVER_REQUEST_TIMEOUT: 'soon' }, 'requestTimeout'],
    [['--docroot', FIXTURE_DOCROOT, '--port', String(port), '--session-dir', planted], {}, 'sessionDir'],
    // Compiled code planted in advance would run in every worker: the same refusal.
    [['--docroot', FIXTURE_DOCROOT, '--port', String(port), '--opcache-file-cache', planted], {}, 'opcacheFileCache'],
  ] as Array<[string[], Record<string, string>, string]>) {
    const result = run(args, env);
    const code = await result.exit;
    t.equal(code, 2, `${args.join(' ')} → exit 2`);
    const message = result.stderr().trim();
    t.equal(message.split('\n').length, 1, `one line: ${message}`);
    t.ok(message.includes(key), `names ${key}`);
  }
  // Nothing may have listened: the port is still free.
  const probe = createServer();
  await new Promise<void>((resolve, reject) => { probe.once('error', reject); probe.listen(port, '127.0.0.1', resolve); });
  await new Promise((resolve) => probe.close(resolve));
  t.pass('the port was never taken');
});

t.test('flags beat environment, environment beats the config file', async (t) => {
  const dir = tempDir(t);
  const [filePort, envPort, flagPort] = [await freePort(), await freePort(), await freePort()];
  const configFile = join(dir, 'server.json');
  writeFileSync(configFile, JSON.stringify({ port: filePort, docroot: FIXTURE_DOCROOT, workers: 1, sessionDir: join(dir, 's') }));
  const viaFile = run(['--config', configFile]);
  t.equal(await viaFile.listening, `http://127.0.0.1:${filePort}`, 'port from the file');
  viaFile.child.kill('SIGTERM');
  await viaFile.exit;
  const viaEnv = run(['--config', configFile], { PHP_WASM_SERVER_PORT: String(envPort) });
  t.equal(await viaEnv.listening, `http://127.0.0.1:${envPort}`, 'environment beats the file');
  viaEnv.child.kill('SIGTERM');
  await viaEnv.exit;
  const viaFlag = run(['--config', configFile, '--port', String(flagPort)], { PHP_WASM_SERVER_PORT: String(envPort) });
  t.equal(await viaFlag.listening, `http://127.0.0.1:${flagPort}`, 'flag beats both');
  viaFlag.child.kill('SIGTERM');
  await viaFlag.exit;
});

t.test('serves a docroot; JSON access lines; SIGTERM finishes in-flight requests and exits 0', async (t) => {
  const dir = tempDir(t);
  const server = run(['--docroot', FIXTURE_DOCROOT, '--port', String(await freePort()), '--workers', '1', '--session-dir', join(dir, 's')]);
  const url = await server.listening;
  const hello = await fetch(`${url}/hello.txt`);
  t.equal(await hello.text(), 'static text file\n');
  // stream.php flushes a first part, then sleeps 1.5 s: its first bytes say it is running.
  const inFlight = await fetch(`${url}/stream.php`);
  const reader = inFlight.body!.getReader();
  let text = new TextDecoder().decode((await reader.read()).value);
  server.child.kill('SIGTERM');
  for (let part = await reader.read(); !part.done; part = await reader.read()) text += new TextDecoder().decode(part.value);
  t.same({ status: inFlight.status, text }, { status: 200, text: 'a'.repeat(5000) + '\ndone\n' }, 'the in-flight request completed');
  t.equal(await server.exit, 0, 'exit code 0');
  const access = server.lines.find((l) => l.msg === 'request' && l.path === '/hello.txt');
  t.match(access, { method: 'GET', status: 200, worker: 'static' }, 'access line as JSON');
  t.ok(typeof access?.ms === 'number' && typeof access?.bytes === 'number', 'with ms and bytes');
  t.ok(server.lines.some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM'), 'logs the shutdown');
});

t.test('a SIGHUP and a SIGTERM sent while the first worker warms up (the port already listens) act once it is started', async (t) => {
  const data = tempDir(t, 'pws-cli-gate-');
  writeFileSync(join(data, 'gate'), '');
  const port = await freePort();
  const server = run(['--docroot', FIXTURE_DOCROOT, '--port', String(port), '--workers', '1', '--warmup', '/warmup-gate.php', '--mount', `${data}:/data`], { PHP_WASM_SERVER_LOG_LEVEL: 'info' });
  await until('the public port to listen', () => server.lines.some((l) => String(l.msg).startsWith('Server listening at')));
  const early = fetch(`http://127.0.0.1:${port}/greeting.php`);
  server.child.kill('SIGHUP');
  server.child.kill('SIGTERM');
  rmSync(join(data, 'gate'));
  const response = await early;
  t.equal(response.status, 200, 'the request sent while it started was served');
  await response.text();
  t.equal(await server.exit, 0, 'then it stopped cleanly, not killed by the signal mid-start');
  t.ok(server.lines.some((l) => l.msg === 'reloading the configuration'), 'the reload asked for meanwhile ran once started');
  t.ok(server.lines.some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM'), 'and the stop');
});
