/** The recycling scenarios' pure parts: the mix, the recycle interval, settling, and counting recycles. */
import t from 'tap';
import { parseBenchArgs } from '../bench/args.js';
import { countFpmRecycles, parseRecycled } from '../bench/recycle-count.js';
import { RECYCLES_PER_WORKER, recycleInterval } from '../bench/recycle-figures.js';
import { growthPercent, isSettled } from '../bench/settle.js';
import { soakMix, SOAK_STATIC, wordpressShare } from '../bench/soak-mix.js';
import { HELLO_SCRIPT } from '../bench/site.js';

t.test('the soak mix: 10 % WordPress, the rest trivial .php and static, WordPress spread out', async (t) => {
  const mix = soakMix();
  t.equal(wordpressShare(mix), 0.1);
  t.equal(mix.filter((p) => p === `/${HELLO_SCRIPT}` || p === SOAK_STATIC).length, mix.length * 0.9);
  const at = mix.flatMap((p, i) => (p === '/' || p.startsWith('/?rest_route') ? [i] : []));
  t.same(at.map((i, k) => (k ? i - at[k - 1] : i)), [0, 10], 'half a cycle apart');
});

t.test('recycle interval: ~RECYCLES_PER_WORKER recycles per worker in the window at the steady rate', async (t) => {
  t.equal(recycleInterval(10, 20, 2), 100 / RECYCLES_PER_WORKER);
  t.equal(recycleInterval(40, 20, 2), 400 / RECYCLES_PER_WORKER);
  t.equal(recycleInterval(0.5, 20, 2), 2, 'never below 2: a worker serves at least its warm-up and one more');
});

t.test('memory settles when the last readings agree', async (t) => {
  t.notOk(isSettled([100, 100, 100], 4, 0.01), 'too few readings');
  t.ok(isSettled([500, 100, 100.5, 99.5, 100], 4, 0.01));
  t.notOk(isSettled([100, 100, 100, 103], 4, 0.01), 'still moving');
  t.equal(growthPercent(400, 440), 10);
  t.equal(growthPercent(400, 380), -5);
});

t.test('recycles: from our /metrics and from php-fpm log lines', async (t) => {
  const metrics = [
    '# TYPE php_wasm_server_worker_exits_total counter',
    'php_wasm_server_worker_exits_total{reason="memory"} 3',
    'php_wasm_server_worker_exits_total{reason="recycled"} 17',
  ].join('\n');
  t.equal(parseRecycled(metrics), 17);
  t.equal(parseRecycled(`${metrics}\n# TYPE php_wasm_server_worker_resets_total counter\nphp_wasm_server_worker_resets_total 5`), 22, 'resets in place count as recycles');
  t.throws(() => parseRecycled('php_wasm_server_requests_total 5'), /reason="recycled"/);
  const log = [
    '[04-Dec-2026 09:13:53] NOTICE: [pool bench] child 11988 exited with code 0 after 3.111544 seconds from start',
    '[04-Dec-2026 09:13:53] NOTICE: [pool bench] child 11999 started',
    '[04-Dec-2026 09:14:00] NOTICE: [pool bench] child 12001 exited on signal 3 (SIGQUIT) after 5.2 seconds from start',
    '[04-Dec-2026 09:13:54] NOTICE: [pool bench] child 11990 exited with code 0 after 2.136858 seconds from start',
  ].join('\n');
  t.equal(countFpmRecycles(log), 2, 'a child stopped by a signal (shutdown) is not a recycle');
});

t.test('soak and recycle are opt-in, and SQLite only', async (t) => {
  t.notOk(parseBenchArgs([], '/tmp').scenarios.some((id) => id === 'soak' || id === 'recycle'), 'not in the default run');
  t.same(parseBenchArgs(['--scenarios', 'soak,recycle'], '/tmp').scenarios, ['soak', 'recycle']);
  t.throws(() => parseBenchArgs(['--db', 'mariadb', '--scenarios', 'soak'], '/tmp'), /soak is measured with --db sqlite only/);
});
