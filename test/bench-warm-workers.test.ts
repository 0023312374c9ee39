/** The bench reads idle memory only once every worker is warm: it reads that from the real admin /metrics. */
import t from 'tap';
import type { Child } from '../bench/children.js';
import { serverAtRest, siteCompiles, waitForWarmWorkers, workersAtRest, workersByState } from '../bench/warm-workers.js';
import { settledReading } from '../bench/settle.js';
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
  t.ok(await serverAtRest(`${server.adminUrl}/metrics`, 2), 'two idle workers of two: at rest');
  t.notOk(await serverAtRest(`${server.adminUrl}/metrics`, 1), 'one worker more than configured (a self-call worker, a successor): not at rest');
  t.notOk(await serverAtRest(`${server.adminUrl}/nothing-here`, 2), 'no answer: not at rest');
});

t.test('workersAtRest: exactly the configured workers, all idle', async (t) => {
  t.ok(workersAtRest({ booting: 0, warming: 0, idle: 2, busy: 0, retiring: 0 }, 2));
  t.notOk(workersAtRest({ idle: 3 }, 2), 'a self-call worker beside the two');
  t.notOk(workersAtRest({ idle: 2, booting: 1 }, 2), 'a successor booting');
  t.notOk(workersAtRest({ idle: 1, busy: 1 }, 2), 'one busy');
  t.notOk(workersAtRest({ idle: 1 }, 2), 'one missing');
});

t.test('settledReading counts only readings taken at rest: one taken otherwise starts the count again', async (t) => {
  const opts = { readings: 4, tolerance: 0.01, intervalMs: 1, maxMs: 60_000 };
  const run = async (rest: boolean[], values: number[]) => {
    let reads = 0;
    const reading = await settledReading(() => values[Math.min(reads++, values.length - 1)]!, opts, async () => rest[Math.min(reads, rest.length - 1)]!);
    return { reads, value: reading.value, settled: reading.settled, atRest: reading.atRest };
  };
  // An extra worker holding memory still: four equal readings, yet not the server at rest.
  t.same(await run([false, false, false, false, true], [450, 450, 450, 450, 300]), { reads: 8, value: 300, settled: true, atRest: true }, 'the steady readings with an extra worker did not count');
  t.same(await run([true, true, true, false, true], [300]), { reads: 8, value: 300, settled: true, atRest: true }, 'three at rest, one not: the count starts again');

  const never = await settledReading(() => 300, { ...opts, maxMs: 30 }, async () => false);
  t.same({ settled: never.settled, atRest: never.atRest }, { settled: false, atRest: false }, 'never at rest: not settled, and it says so');
});
