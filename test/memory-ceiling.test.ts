/**
 * memory_limit is a ceiling a script cannot lift (php-fpm's php_admin_value): ini_set() still
 * answers, but the worker's wasm memory does not grow past the configured limit (plus headroom),
 * so the allocation fails as PHP's ordinary "Out of memory". Real php.wasm over real HTTP.
 */
import t from 'tap';
import { startTestServer } from './helpers/server.js';

type Answer = { pid: number; limit: string; bytes: number };

t.test('a script that sets memory_limit to -1 still cannot grow past the configured limit', async (t) => {
  const server = await startTestServer({ workers: 1, ini: { memory_limit: '64M' }, maxWorkerMemory: 0 });
  t.teardown(() => server.close());
  const get = (query: string) => fetch(`${server.url}/memory-raise.php?${query}`);

  const within = await get('mb=32');
  t.equal(within.status, 200, 'within the limit: served');
  const { pid } = (await within.json()) as Answer;

  const lifted = await get('limit=-1&mb=300');
  t.equal(lifted.status, 500, 'lifting the limit does not let the script take 300 MB');
  t.ok(server.logs.some((line) => line.msg === 'php script reached the memory ceiling (memory_limit cannot be raised past it)'), 'logged as such');
  t.ok(server.logs.some((line) => /Out of memory/.test(String(line.php))), "PHP's own out-of-memory error");

  const after = await get('mb=16');
  t.equal(after.status, 200, 'the worker goes on serving');
  t.equal(((await after.json()) as Answer).pid, pid, 'the same instance: nothing broke');
});

t.test('memory_limit -1 in the configuration means no ceiling', async (t) => {
  const server = await startTestServer({ workers: 1, ini: { memory_limit: '-1' }, maxWorkerMemory: 0 });
  t.teardown(() => server.close());
  const response = await fetch(`${server.url}/memory-raise.php?mb=300`);
  t.equal(response.status, 200);
  t.same(((await response.json()) as Answer).limit, '-1');
});
