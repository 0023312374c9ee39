/** The bench reads idle memory only once every worker is warm: it reads that from the real admin /metrics. */
import t from 'tap';
import type { Child } from '../bench/children.js';
import { siteCompiles, waitForWarmWorkers, workersByState } from '../bench/warm-workers.js';
import { startTestServer } from './helpers/server.js';

t.test('workersByState reads the workers gauge by state', async (t) => {
  const text = '# HELP php_wasm_server_workers x\nphp_wasm_server_workers{state="booting"} 1\nphp_wasm_server_workers{state="idle"} 2\nphp_wasm_server_workers_other 9\n';
  t.same(workersByState(text), { booting: 1, idle: 2 });
  t.equal(siteCompiles('php_wasm_server_opcache_file_cache_compiles_total{result="done"} 1\nphp_wasm_server_opcache_file_cache_compiles_total{result="failed"} 0\n'), 1);
});

t.test('waitForWarmWorkers returns once the server reports all its workers idle and the site compiled, and fails at its deadline when they never are', async (t) => {
  const server = await startTestServer({ workers: 2, adminPort: 0 });
  t.teardown(() => server.close());
  const child = { name: 'in-process server', exitCode: undefined } as unknown as Child;
  await waitForWarmWorkers(`${server.adminUrl}/metrics`, 2, child, 60_000);
  t.equal(server.pool.stats.idle, 2, 'both idle when it returned');
  t.ok(server.logs.some((l) => l.msg === 'opcache file cache: site compiled'), 'the site was compiled');
  await t.rejects(waitForWarmWorkers(`${server.adminUrl}/metrics`, 3, child, 500), /3 workers not all warm, or the site not compiled, within/, 'a third never comes');
});
