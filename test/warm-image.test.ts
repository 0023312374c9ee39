/**
 * New workers start from the memory image of the first worker that warmed up (warm-image.ts), with
 * real php.wasm workers: they are warm without a warm-up of their own, each has its own identity
 * and randomness, and an image never outlives the code it compiled.
 */
import { readdirSync, readFileSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
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

// Whether late.php (never part of the warm-up) is compiled is asked before this request compiles it.
const PROBE_PHP = `<?php
$lateCached = opcache_is_script_cached(__DIR__ . '/late.php');
require __DIR__ . '/late.php';
header('content-type: application/json');
echo json_encode(['pid' => getmypid(), 'lateCached' => $lateCached, 'mt' => mt_rand()]);
`;

/** A site whose warm-up compiles lib.php and counts itself in /counts/warmups. */
function site(t: { teardown(fn: () => void): void }): { docroot: string; counts: string } {
  const docroot = tempDir(t, 'pws-image-site-');
  const counts = tempDir(t, 'pws-image-counts-');
  writeFileSync(join(docroot, 'lib.php'), "<?php function lib_value() { return 'v1'; }\n");
  writeFileSync(join(docroot, 'warm.php'), "<?php require __DIR__ . '/lib.php'; mt_rand(); lcg_value(); file_put_contents('/counts/warmups', \"w\\n\", FILE_APPEND);\n");
  writeFileSync(join(docroot, 'state.php'), STATE_PHP);
  writeFileSync(join(docroot, 'late.php'), "<?php function late_value() { return 'late'; }\n");
  writeFileSync(join(docroot, 'probe.php'), PROBE_PHP);
  // opcache caches no file changed in the last 2 s (opcache.file_update_protection): these are older.
  const anHourAgo = Date.now() / 1000 - 3600;
  for (const name of readdirSync(docroot)) utimesSync(join(docroot, name), anHourAgo, anHourAgo);
  writeFileSync(join(docroot, 'rewrite.php'), "<?php file_put_contents(__DIR__ . '/lib.php', \"<?php function lib_value() { return 'v2'; }\\n\"); echo 'rewritten';\n");
  return { docroot, counts };
}

/** Workers recycle by starting new threads from the image (resets in place have tests of their own below). */
function settings(docroot: string, counts: string, overrides: Partial<ServerConfig> = {}): Partial<ServerConfig> {
  return { docroot, workers: 2, maxRequests: 4, workerResets: 0, warmup: ['/warm.php'], mounts: [{ host: counts, guest: '/counts', readOnly: false }], ...overrides };
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

interface Probe {
  pid: number;
  lateCached: boolean;
  mt: number;
}

async function probe(server: TestServer): Promise<Probe> {
  const response = await fetch(`${server.url}/probe.php`);
  if (response.status !== 200) throw new Error(`probe.php answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as Probe;
}

const resetLines = (server: TestServer) => server.logs.filter((line) => line.msg === 'php worker recycled in place from the warm image');

t.test('a worker that served its quota is reset in place: same thread, its PHP as the image left it, its thread replaced after --worker-resets', async (t) => {
  const { docroot, counts } = site(t);
  // Two workers: the one that took the image, and one started before it existed (its descriptors differ from the image's).
  const server = await startTestServer(settings(docroot, counts, { workers: 2, maxRequests: 3, workerResets: 2, adminPort: 0 }));
  t.teardown(() => server.close());
  const first = new Set(server.logs.filter((line) => line.msg === 'php worker booted').map((line) => Number(line.worker)));
  t.equal(first.size, 2);
  const probes: Probe[] = [];
  await until('both first threads to be replaced', async () => {
    probes.push(await probe(server));
    return [...first].every((pid) => server.logs.some((line) => line.msg === 'recycling php worker' && line.worker === pid));
  }, 120_000);

  for (const pid of first) {
    const thread = probes.filter((p) => p.pid === pid);
    t.equal(resetLines(server).filter((line) => line.worker === pid).length, 2, `worker ${pid} was reset twice, then replaced`);
    // A fresh instance, or one made the image again, has never compiled late.php: each life starts without it.
    const pattern = thread.map((p) => Number(p.lateCached)).join('');
    t.equal(thread.filter((p) => !p.lateCached).length, 3, `worker ${pid}: late.php was forgotten at each reset (${pattern})`);
    t.notMatch(pattern, /00/, `worker ${pid}: and only then: it stays compiled between resets`);
  }
  t.equal(warmups(counts), 2, 'the warm-up ran in the first two workers only: the image stood in for it since');

  const metrics = await (await fetch(`${server.adminUrl}/metrics`)).text();
  t.match(metrics, /\nphp_wasm_server_worker_resets_total [2-9]/, 'resets are counted');
});

t.test('a reset from an image that cannot be read whole replaces that worker and gives images up; requests never fail', async (t) => {
  const { docroot, counts } = site(t);
  const server = await startTestServer(settings(docroot, counts, { maxRequests: 3, workerResets: 5 }));
  t.teardown(() => server.close());
  const taken = () => server.logs.find((line) => line.msg === 'took a warm memory image for new workers');
  await until('the warm image', () => taken() !== undefined);
  const path = String(taken()?.path);
  truncateSync(path, Math.floor(statSync(path).size / 2));
  const probes: Probe[] = [];
  await until('three threads to answer', async () => {
    probes.push(await probe(server));
    return new Set(probes.map((p) => p.pid)).size >= 3;
  }, 120_000);
  t.same(resetLines(server), [], 'no worker was reset from the cut image');
  t.ok(server.logs.some((line) => line.msg === 'php worker failed while being reset to the warm image; replacing it'), 'the worker it was tried on was replaced');
  t.ok(server.logs.some((line) => line.msg === 'a new worker cannot start from the warm memory image; workers start PHP up and warm up themselves from now on' && /could not be reset/.test(String(line.reason))), 'images are given up');
});

t.test('code changed by PHP: no worker is reset to the image compiled before it; they are replaced and run the new code', async (t) => {
  const { docroot, counts } = site(t);
  const server = await startTestServer(settings(docroot, counts, { workers: 2, maxRequests: 3, workerResets: 5, opcacheValidate: false }));
  t.teardown(() => server.close());
  await until('a worker reset in place', async () => {
    await state(server);
    return resetLines(server).length >= 1;
  }, 120_000);
  // A reset asked for before the change may still be under way: it is not one of those counted after it.
  await until('resets under way to end', () => server.pool.stats.busy === 0);
  const resetsBefore = resetLines(server).length;
  t.equal(await (await fetch(`${server.url}/rewrite.php`)).text(), 'rewritten');
  const recyclesAfter = () => server.logs.filter((line) => line.msg === 'recycling php worker').length;
  const after: State[] = [];
  await until('both workers to be recycled after the change', async () => {
    after.push(await state(server));
    return recyclesAfter() >= 2;
  }, 120_000);
  for (let i = 0; i < 6; i++) after.push(await state(server));
  t.same(after.filter((s) => s.lib !== 'v2'), [], 'every answer since runs the new code');
  const images = server.logs.filter((line) => line.msg === 'took a warm memory image for new workers').length;
  t.ok(resetLines(server).length === resetsBefore || images >= 2, 'resets since were to an image taken after the change');
});

t.test('a worker whose PHP called getprotobyname is replaced, not reset: JavaScript keeps those entries in its memory', async (t) => {
  const { docroot, counts } = site(t);
  writeFileSync(join(docroot, 'proto.php'), "<?php echo getmypid(), ' ', getprotobyname('tcp'), ' ', getprotobynumber(17);");
  const server = await startTestServer(settings(docroot, counts, { workers: 1, maxRequests: 3, workerResets: 5 }));
  t.teardown(() => server.close());
  await until('a worker reset in place', async () => {
    await probe(server);
    return resetLines(server).length >= 1;
  }, 120_000);
  const [pid, tcp, udp] = (await (await fetch(`${server.url}/proto.php`)).text()).split(' ');
  t.same([tcp, udp], ['6', 'udp']);
  const probes: Probe[] = [];
  await until('another thread to answer', async () => {
    probes.push(await probe(server));
    return probes.at(-1)!.pid !== Number(pid);
  }, 120_000);
  t.ok(server.logs.some((line) => line.msg === 'php worker could not be reset to the warm image; replacing it instead' && line.worker === Number(pid) && /getprotobyname/.test(String(line.error))), 'its reset was refused');
  t.equal(resetLines(server).filter((line) => line.worker === Number(pid)).length, 1, 'only its reset before the call happened');
  t.same((await (await fetch(`${server.url}/proto.php`)).text()).split(' ').slice(1), ['6', 'udp'], 'the new thread answers alike');
});
