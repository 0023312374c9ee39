/**
 * php.wasm runs Zend's memory manager, although its environment says USE_ZEND_ALLOC=0: php.wasm
 * applies that putenv() at each request's start, after module startup has already chosen the
 * allocator. Measured against libc malloc (the same build with USE_ZEND_ALLOC=0 in its environment
 * from the start): ~10% less CPU per WordPress page and REST call, the same for a trivial script,
 * and memory_limit enforced by PHP itself. A php.wasm that applied the putenv in time would switch
 * to malloc silently; these tests notice. Real php.wasm over real HTTP.
 */
import t from 'tap';
import { startTestServer } from './helpers/server.js';

type Answer = { pid: number; usage: number; real: number; env: string | false };

t.test('PHP runs Zend MM: it counts its memory in 2 MB chunks', async (t) => {
  const server = await startTestServer({ workers: 1 });
  t.teardown(() => server.close());
  const answer = (await (await fetch(`${server.url}/allocator.php`)).json()) as Answer;
  t.ok(answer.usage > 0, 'memory_get_usage() counts (libc malloc reports 0)');
  t.ok(answer.real >= 2 * 1024 * 1024 && answer.real % (2 * 1024 * 1024) === 0, `memory_get_usage(true) is whole chunks: ${answer.real}`);
  t.equal(answer.env, '0', "php.wasm's own USE_ZEND_ALLOC=0 is still in the environment: it just comes too late");
});

t.test('memory_limit is enforced by PHP (a fatal error), and the worker goes on serving', async (t) => {
  // Far below the wasm memory ceiling (limit + 64 MB), so PHP's own limit is what stops the script.
  const server = await startTestServer({ workers: 1, ini: { memory_limit: '32M' } });
  t.teardown(() => server.close());
  const get = (small: number) => fetch(`${server.url}/allocator.php?small=${small}`);
  const within = await get(8);
  t.equal(within.status, 200, 'within the limit: served');
  const { pid } = (await within.json()) as Answer;

  const over = await get(64);
  t.equal(over.status, 500, 'over the limit: a PHP fatal error');
  await over.arrayBuffer();
  t.ok(server.logs.some((line) => /Allowed memory size of 33554432 bytes exhausted/.test(String(line.php))), "Zend MM's own message (malloc has no limit to report)");
  t.notOk(server.logs.some((line) => /Out of memory/.test(String(line.php))), 'not the wasm memory ceiling');

  const after = await get(8);
  t.equal(after.status, 200, 'the worker serves the next request');
  t.equal(((await after.json()) as Answer).pid, pid, 'the same instance: nothing was discarded');
});
