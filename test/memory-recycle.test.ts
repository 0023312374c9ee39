/**
 * --max-worker-memory: wasm memory only grows, so a worker that one request grew far past its warm
 * size is recycled after that request (its successor boots first), instead of holding the memory for
 * the next 1,500 requests. Real php.wasm, real HTTP; the exit is seen in the metrics.
 */
import t from 'tap';
import { startTestServer } from './helpers/server.js';
import { until } from './helpers/until.js';
import { reportSetupFailures } from './helpers/setup-failures.js';

reportSetupFailures();

const pidOf = async (url: string) => ((await (await fetch(url)).json()) as { pid: number }).pid;

async function exits(adminUrl: string, reason: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`php_wasm_server_worker_exits_total{reason="${reason}"} `));
  return Number(line?.split(' ')[1] ?? 0);
}


t.test('a worker grown past --max-worker-memory by one request is recycled; small requests leave it alone', async (t) => {
  const server = await startTestServer({ workers: 1, maxWorkerMemory: 64 * 1024 * 1024, adminPort: 0, ini: { memory_limit: '512M' } });
  t.teardown(() => server.close());
  const first = await pidOf(`${server.url}/memory-bomb.php?mb=1`);
  for (let i = 0; i < 5; i++) t.equal(await pidOf(`${server.url}/memory-bomb.php?mb=1`), first, 'small requests: same worker');
  t.equal(await exits(server.adminUrl!, 'memory'), 0);

  const rssBefore = process.memoryUsage().rss;
  t.equal(await pidOf(`${server.url}/memory-bomb.php?mb=200`), first, 'the big request is answered by the worker it grows');
  const rssPeak = process.memoryUsage().rss;
  await until('the grown worker to be recycled', async () => (await exits(server.adminUrl!, 'memory')) === 1);
  const rssAfter = process.memoryUsage().rss;
  t.comment(`RSS (whole test process) before ${Math.round(rssBefore / 2 ** 20)} MB, after the 200 MB request ${Math.round(rssPeak / 2 ** 20)} MB, after the recycle ${Math.round(rssAfter / 2 ** 20)} MB`);
  t.not(await pidOf(`${server.url}/memory-bomb.php?mb=1`), first, 'a fresh worker serves next');
  const recycled = server.logs.find((l) => l.msg === 'recycling php worker' && l.reason === 'memory');
  t.ok(recycled, 'the log says why');
  t.ok(Number(recycled?.memoryBytes) - Number(recycled?.warmMemoryBytes) > 64 * 1024 * 1024, 'it had grown past the limit');
  t.equal(await exits(server.adminUrl!, 'recycled'), 0, 'not counted as a request-count recycle');
});
