/**
 * New workers start from the memory image of the first worker that warmed up (warm-image.ts), with
 * real php.wasm workers: they are warm without a warm-up of their own, each has its own identity
 * and randomness, and an image never outlives the code it compiled.
 */
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { ServerConfig } from '../server/config/types.js';
import { startTestServer, tempDir, type TestServer } from './helpers/server.js';
import { until } from './helpers/until.js';

interface State {
  pid: number;
  mt: number;
  int: number;
  lcg: number;
  sid: string;
  libCached: boolean;
  lib: string;
}

// Whether lib.php is compiled is asked before this request compiles it.
const STATE_PHP = `<?php
$libCached = opcache_is_script_cached(__DIR__ . '/lib.php');
require __DIR__ . '/lib.php';
header('content-type: application/json');
echo json_encode(['pid' => getmypid(), 'mt' => mt_rand(), 'int' => random_int(0, PHP_INT_MAX), 'lcg' => lcg_value(),
  'sid' => session_create_id(), 'libCached' => $libCached, 'lib' => lib_value()]);
`;

/** A site whose warm-up compiles lib.php and counts itself in /counts/warmups. */
function site(t: { teardown(fn: () => void): void }): { docroot: string; counts: string } {
  const docroot = tempDir(t, 'pws-image-site-');
  const counts = tempDir(t, 'pws-image-counts-');
  writeFileSync(join(docroot, 'lib.php'), "<?php function lib_value() { return 'v1'; }\n");
  writeFileSync(join(docroot, 'warm.php'), "<?php require __DIR__ . '/lib.php'; mt_rand(); lcg_value(); file_put_contents('/counts/warmups', \"w\\n\", FILE_APPEND);\n");
  writeFileSync(join(docroot, 'state.php'), STATE_PHP);
  writeFileSync(join(docroot, 'rewrite.php'), "<?php file_put_contents(__DIR__ . '/lib.php', \"<?php function lib_value() { return 'v2'; }\\n\"); echo 'rewritten';\n");
  return { docroot, counts };
}

function settings(docroot: string, counts: string, overrides: Partial<ServerConfig> = {}): Partial<ServerConfig> {
  return { docroot, workers: 2, maxRequests: 4, warmup: ['/warm.php'], mounts: [{ host: counts, guest: '/counts', readOnly: false }], ...overrides };
}

async function state(server: TestServer): Promise<State> {
  const response = await fetch(`${server.url}/state.php`);
  if (response.status !== 200) throw new Error(`state.php answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as State;
}

/** States until workers with `workers` distinct pids have answered (recycling brings new ones). */
async function statesFromWorkers(server: TestServer, workers: number): Promise<State[]> {
  const states: State[] = [];
  await until(`${workers} different workers to answer`, async () => {
    states.push(await state(server));
    return new Set(states.map((s) => s.pid)).size >= workers;
  }, 120_000);
  return states;
}

const warmups = (counts: string) => readFileSync(join(counts, 'warmups'), 'utf8').split('\n').filter(Boolean).length;
const bootedFromImage = (server: TestServer) => server.logs.filter((line) => line.msg === 'php worker booted' && line.fromImage === true).map((line) => line.worker);

t.test('recycled workers start from the warm image: warm at once, no warm-up of their own, each with its own pid and randomness', async (t) => {
  const { docroot, counts } = site(t);
  const server = await startTestServer(settings(docroot, counts));
  t.teardown(() => server.close());
  const states = await statesFromWorkers(server, 6);

  const fromImage = bootedFromImage(server);
  t.ok(fromImage.length >= 3, `workers started from the image: ${fromImage.join(', ')}`);
  t.equal(server.logs.filter((line) => line.msg === 'took a warm memory image for new workers').length, 1, 'one image, taken once');
  // The first worker warmed up and gave the image; the second had started before it was written.
  t.equal(warmups(counts), 2, 'only the first two workers ran the warm-up');

  const firstOfEach = [...new Map(states.map((s) => [s.pid, s] as const)).values()];
  for (const s of firstOfEach.filter((s) => fromImage.includes(s.pid))) t.ok(s.libCached, `worker ${s.pid}'s first request found lib.php compiled already`);
  for (const field of ['mt', 'int', 'lcg', 'sid'] as const) {
    t.equal(new Set(firstOfEach.map((s) => s[field])).size, firstOfEach.length, `${field}: every worker draws its own values`);
  }
  t.ok(states.every((s) => s.lib === 'v1'));
});

t.test('with --worker-image false every new worker starts PHP up and warms up itself', async (t) => {
  const { docroot, counts } = site(t);
  const server = await startTestServer(settings(docroot, counts, { workerImage: false }));
  t.teardown(() => server.close());
  const states = await statesFromWorkers(server, 4);
  t.same(bootedFromImage(server), []);
  t.ok(warmups(counts) >= new Set(states.map((s) => s.pid)).size, `each worker warmed up (${warmups(counts)} warm-ups)`);
});

t.test('code changed by PHP makes the image go: workers started afterwards run the new code, even with opcache never revalidating', async (t) => {
  const { docroot, counts } = site(t);
  const server = await startTestServer(settings(docroot, counts, { opcacheValidate: false }));
  t.teardown(() => server.close());
  await statesFromWorkers(server, 3); // the image exists and has been used
  t.ok(bootedFromImage(server).length >= 1);

  const bootedSoFar = Math.max(...server.logs.filter((line) => line.msg === 'php worker booted').map((line) => Number(line.worker)));
  const rewrite = await fetch(`${server.url}/rewrite.php`);
  t.equal(await rewrite.text(), 'rewritten');
  const after: State[] = [];
  await until('two workers started after the change to answer', async () => {
    after.push(await state(server));
    return new Set(after.map((s) => s.pid).filter((pid) => pid > bootedSoFar)).size >= 2;
  }, 120_000);
  const stale = after.filter((s) => s.lib !== 'v2');
  t.same(stale, [], 'no worker ran the code compiled before the change');
});

t.test('an image that cannot be read whole fails one boot, then workers start up on their own; requests never fail', async (t) => {
  const { docroot, counts } = site(t);
  const server = await startTestServer(settings(docroot, counts, { maxRequests: 3 }));
  t.teardown(() => server.close());
  const taken = () => server.logs.find((line) => line.msg === 'took a warm memory image for new workers');
  await until('the warm image', () => taken() !== undefined);
  const path = String(taken()?.path);
  truncateSync(path, Math.floor(statSync(path).size / 2));
  const states = await statesFromWorkers(server, 5);
  t.ok(states.every((s) => s.lib === 'v1'));
  t.ok(server.logs.some((line) => line.msg === 'a new worker cannot start from the warm memory image; workers start PHP up and warm up themselves from now on' && /failed to boot/.test(String(line.reason))), 'images are given up');
  t.same(bootedFromImage(server), [], 'no worker started from the cut image');
  t.ok(warmups(counts) >= 4, 'the workers started since warmed up themselves');
});
