/**
 * A restarted server loads the machine code its last run optimised instead of compiling php.wasm
 * (real servers as child processes: the module is made once per process). A damaged file is not
 * loaded; the server compiles, serves, and writes it again. Node 26 has no such calls: it compiles
 * and says why nothing is saved.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { CODE_FOLDER } from '../server/wasm-code-cache/cache-file.js';
import { runCli, type Run } from './helpers/cli.js';
import { tempDir } from './helpers/server.js';
import { until } from './helpers/until.js';

// Hash lookups, allocations and string functions in a loop: what V8 optimises first in every PHP site.
const HOT_SCRIPT = `<?php
$a = [];
for ($i = 0; $i < 200000; $i++) { $a["k$i"] = str_repeat('x', $i % 7); }
$n = 0;
foreach ($a as $k => $v) { if (array_key_exists($k, $a) && strlen($v) < 7) $n++; }
echo "counted $n";
`;

const major = Number(process.versions.node.split('.')[0]);
const SAVED = "saved php.wasm's optimised machine code for the next start";
const LOADED = 'php.wasm: loaded the optimised machine code of a run before';

async function start(t: Test, docroot: string, cache: string): Promise<{ run: Run; url: string }> {
  const run = runCli(['--docroot', docroot, '--port', '0', '--host', '127.0.0.1', '--workers', '1', '--opcache-file-cache', cache, '--log-level', 'debug']);
  const url = await Promise.race([run.listening, run.exit.then((code) => { throw new Error(`server exited (${code}): ${run.stderr()}`); })]);
  t.teardown(() => { if (run.child.exitCode === null) run.child.kill('SIGKILL'); });
  return { run, url };
}

async function stop(run: Run): Promise<void> {
  run.child.kill('SIGTERM');
  await run.exit;
}

const logged = (run: Run, msg: string) => run.lines.find((line) => line.msg === msg);

/**
 * Requests the hot script until the server logged `msg`. It saves at a quiet moment (checked every
 * 5 s) once V8 optimised code, so after each request the pool is left quiet for a while.
 */
async function serveUntilLogged(run: Run, url: string, msg: string): Promise<void> {
  for (let round = 0; round < 10 && !logged(run, msg); round++) {
    const response = await fetch(`${url}/hot.php`);
    if ((await response.text()) !== 'counted 200000') throw new Error('wrong answer');
    await until(`the server to log "${msg}"`, () => logged(run, msg) !== undefined, 6_000).catch(() => undefined);
  }
  if (!logged(run, msg)) throw new Error(`the server never logged "${msg}"`);
}

t.test("php.wasm's optimised code is kept for the next start, used only whole", async (t) => {
  const docroot = tempDir(t);
  writeFileSync(join(docroot, 'hot.php'), HOT_SCRIPT);
  const cache = tempDir(t);
  chmodSync(cache, 0o700);

  const first = await start(t, docroot, cache);
  if (major >= 26) {
    t.match(logged(first.run, 'php.wasm: compiled'), { cache: /no calls for wasm machine code/ }, 'compiled, and the log says why');
    await until('the server to say why nothing is saved', () => first.run.lines.some((l) => /not saved for the next start/.test(String(l.msg))));
    t.match(first.run.lines.find((l) => /not saved/.test(String(l.msg))), { reason: /no calls for wasm machine code/ });
    await stop(first.run);
    t.notOk(existsSync(join(cache, CODE_FOLDER)), 'no code folder');
    return;
  }
  t.match(logged(first.run, 'php.wasm: compiled'), { cache: /none yet/, inThread: true }, 'nothing to load on the first start');
  await serveUntilLogged(first.run, first.url, SAVED);
  const file = String(logged(first.run, SAVED)!.path);
  t.equal(file.startsWith(join(cache, CODE_FOLDER) + '/'), true, 'beside the compiled scripts');
  await stop(first.run);

  const second = await start(t, docroot, cache);
  t.match(logged(second.run, LOADED), { inThread: true }, 'the next start loads it instead of compiling, in a thread of its own while the server loads');
  t.notOk(logged(second.run, 'php.wasm: compiled'));
  t.equal(await (await fetch(`${second.url}/hot.php`)).text(), 'counted 200000', 'and PHP runs right on it');
  await stop(second.run);

  const bytes = readFileSync(file);
  bytes[bytes.byteLength - 4096] ^= 0x40;
  writeFileSync(file, bytes);
  const third = await start(t, docroot, cache);
  t.notOk(logged(third.run, LOADED), 'a damaged file is not loaded');
  t.match(logged(third.run, 'php.wasm: compiled'), { cache: /does not match its hash/ }, 'the log says why');
  await serveUntilLogged(third.run, third.url, SAVED);
  await stop(third.run);

  const fourth = await start(t, docroot, cache);
  t.ok(logged(fourth.run, LOADED), 'written again whole, and loaded');
  await stop(fourth.run);
});
