/**
 * The admin listener (--admin-port) over real HTTP with real php.wasm workers: liveness, readiness
 * while starting, ready, with the queue full and while draining, and Prometheus metrics; none of it
 * on the public port.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { bootTestServer, startTestServer, tempDir } from './helpers/server.js';
import { until } from './helpers/until.js';


async function probe(url: string): Promise<{ status: number; body: string; type: string | null }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  return { status: response.status, body: await response.text(), type: response.headers.get('content-type') };
}

/** A metric's value from Prometheus text, e.g. value(text, 'x_total{kind="php",status_class="2xx"}'). */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

t.test('readiness follows the pool: starting, ready, queue full, draining; liveness throughout', async (t) => {
  const data = tempDir(t, 'pws-admin-');
  writeFileSync(join(data, 'gate'), '');
  const boot = bootTestServer({
    workers: 1, queueLimit: 1, adminPort: 0, warmup: ['/warmup-gate.php'],
    mounts: [{ host: data, guest: '/data', readOnly: false }],
  });
  let listening = false;
  void boot.server.then(() => { listening = true; }, () => undefined);
  t.teardown(async () => {
    rmSync(join(data, 'gate'), { force: true });
    await (await boot.server).close();
  });

  await until('the admin listener to log its address', () => boot.logs.some((l) => l.msg === 'admin listening'));
  const adminUrl = boot.logs.find((l) => l.msg === 'admin listening')!.adminUrl as string;
  const whileStarting = await probe(`${adminUrl}/readyz`);
  t.same([whileStarting.status, whileStarting.body], [503, 'starting\n'], 'not ready while the only worker warms up');
  t.equal((await probe(`${adminUrl}/healthz`)).status, 200, 'alive while starting');
  t.notOk(listening, 'the server has not finished starting');
  // The public port listens already: a visitor waits in the queue rather than finding no server.
  const publicListen = () => boot.logs.map((l) => /^Server listening at (http:\/\/\S+)/.exec(String(l.msg))?.[1]).find((url) => url && url !== adminUrl);
  await until('the public port to listen', () => publicListen() !== undefined);
  const publicUrl = publicListen()!;
  const early = fetch(`${publicUrl}/sleep.php?ms=1`);

  rmSync(join(data, 'gate'));
  const earlyResponse = await early;
  t.same([earlyResponse.status, await earlyResponse.text()], [200, 'slept'], 'a request sent while the only worker warmed up was served after it');
  const running = await boot.server;
  t.equal(running.adminUrl, adminUrl);
  const ready = await probe(`${adminUrl}/readyz`);
  t.same([ready.status, ready.body], [200, 'ready\n'], 'ready once a worker is warm');

  // One request runs, one waits: the queue (limit 1) is full.
  const slow = fetch(`${running.url}/sleep.php?ms=3000`);
  await until('the slow request to run', () => running.pool.stats.busy === 1);
  const queued = fetch(`${running.url}/sleep.php?ms=1`);
  await until('the second request to queue', () => running.pool.stats.queued === 1);
  const full = await probe(`${adminUrl}/readyz`);
  t.same([full.status, full.body], [503, 'queue full\n'], 'not ready with the queue full');
  t.equal((await probe(`${adminUrl}/healthz`)).status, 200, 'a busy server is alive');
  await Promise.all([slow, queued].map(async (r) => (await r).text()));

  // Draining: close() waits for the request in flight; readiness says so meanwhile.
  const last = fetch(`${running.url}/sleep.php?ms=2000`);
  await until('the last request to run', () => running.pool.stats.busy === 1);
  const closed = running.close();
  const draining = await probe(`${adminUrl}/readyz`);
  t.same([draining.status, draining.body], [503, 'draining\n'], 'not ready while draining');
  const lastResponse = await last;
  t.equal(await lastResponse.text(), 'slept', 'the request in flight finished');
  t.equal(lastResponse.headers.get('connection'), 'close', 'its keep-alive connection ends with it, so shutdown need not wait for it');
  await closed;
});

t.test('metrics: requests by kind and status, queue, workers, memory and opcache by slot, exits; admin only on its own port', async (t) => {
  const server = await startTestServer({ workers: 2, adminPort: 0, maxRequests: 3, workerResets: 0 });
  t.teardown(() => server.close());
  const admin = server.adminUrl!;
  for (let i = 0; i < 4; i++) t.equal((await fetch(`${server.url}/pid.php`)).status, 200);
  t.equal((await fetch(`${server.url}/hello.txt`)).status, 200);
  t.equal((await fetch(`${server.url}/hello.txt`)).status, 200);
  await until('a worker recycled after 3 requests', async () => (value(await (await fetch(`${admin}/metrics`)).text(), 'php_wasm_server_worker_exits_total{reason="recycled"}') ?? 0) >= 1);
  await until('the successor to be warm', () => server.pool.stats.idle === 2);

  const scrape = await probe(`${admin}/metrics`);
  t.equal(scrape.status, 200);
  t.match(scrape.type, /^text\/plain; version=0\.0\.4/);
  const text = scrape.body;
  t.equal(value(text, 'php_wasm_server_requests_total{kind="php",status_class="2xx"}'), 4, 'four PHP requests');
  t.equal(value(text, 'php_wasm_server_requests_total{kind="static",status_class="2xx"}'), 2, 'two static files');
  t.ok((value(text, 'php_wasm_server_static_cache_hits_total') ?? 0) >= 1, 'the second static answer came from memory');
  t.equal(value(text, 'php_wasm_server_request_duration_seconds_count{kind="php"}'), 4, 'latency histogram per kind');
  t.equal(value(text, 'php_wasm_server_queue_wait_seconds_count'), 4, 'every PHP request passed the queue');
  t.equal(value(text, 'php_wasm_server_queue_length'), 0);
  t.equal(value(text, 'php_wasm_server_workers{state="idle"}'), 2, 'two idle workers after the recycle');
  t.ok((value(text, 'php_wasm_server_worker_starts_total') ?? 0) >= 3, 'two at start and a successor');
  t.equal(value(text, 'php_wasm_server_worker_exits_total{reason="timeout"}'), 0, 'exit reasons exist before they happen');
  const slots = text.split('\n').filter((l) => l.startsWith('php_wasm_server_worker_memory_bytes{'));
  t.ok(slots.length >= 1 && slots.every((l) => /slot="[0-3]"/.test(l) && Number(l.split(' ')[1]) > 1024 * 1024), 'wasm memory per slot, labelled by a small slot number');
  t.match(text, /\nprocess_resident_memory_bytes \d+/, 'prom-client default process metrics');
  // Workers sample opcache after a request of their own: the one that served the four above may be the
  // one that was recycled (it serves on while its successor warms), so ask until a live one has.
  let sampled = '';
  await until('a live worker with an opcache sample', async () => {
    await (await fetch(`${server.url}/pid.php`)).arrayBuffer();
    sampled = await (await fetch(`${admin}/metrics`)).text();
    return sampled.includes('php_wasm_server_opcache_cached_scripts{');
  });
  const cached = sampled.split('\n').filter((l) => l.startsWith('php_wasm_server_opcache_cached_scripts{'));
  t.ok(cached.length >= 1 && cached.every((l) => /slot="[0-3]"/.test(l) && Number(l.split(' ')[1]) >= 1), `opcache scripts per slot (${cached.join('; ')})`);
  const ratios = sampled.split('\n').filter((l) => l.startsWith('php_wasm_server_opcache_hit_ratio{')).map((l) => Number(l.split(' ')[1]));
  t.ok(ratios.length >= 1 && ratios.every((r) => r >= 0 && r <= 1), `opcache hit ratio per slot (${ratios.join(', ')})`);
  t.ok(sampled.split('\n').some((l) => l.startsWith('php_wasm_server_opcache_used_bytes{') && Number(l.split(' ')[1]) > 0), 'opcache memory in use');
  // php.ini does not size it here: the pool starts workers at 32 MB (pool/opcache-size.ts), and PHP took that.
  const bySlot = (name: string) => new Map(sampled.split('\n').filter((l) => l.startsWith(`${name}{`)).map((l) => [/slot="(\d+)"/.exec(l)![1], Number(l.split(' ')[1])]));
  const used = bySlot('php_wasm_server_opcache_used_bytes');
  const free = bySlot('php_wasm_server_opcache_free_bytes');
  const sizes = [...used].map(([slot, bytes]) => (bytes + free.get(slot)!) / 2 ** 20);
  t.ok(sizes.length >= 1 && sizes.every((mb) => mb > 24 && mb <= 32), `opcache's size is the pool's 32 MB (${sizes.map((mb) => mb.toFixed(1)).join(', ')} MB)`);

  for (const path of ['/metrics', '/healthz', '/readyz']) {
    const publicAnswer = await (await fetch(server.url + path)).text();
    t.notMatch(publicAnswer, /php_wasm_server_|^ready|^ok/, `${path} is not served on the public port`);
  }
});

t.test('no admin listener unless --admin-port is set', async (t) => {
  const server = await startTestServer({ workers: 1 });
  t.teardown(() => server.close());
  t.equal(server.adminUrl, undefined);
  t.notOk(server.logs.some((l) => l.msg === 'admin listening'));
});
