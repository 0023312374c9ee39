/**
 * The launcher starts node with the server's Node flags (server/node-flags.ts), and V8 takes them: the
 * main thread's young generation stays within 2 × 4 MiB under request load (uncapped it grew to
 * 2 × 16 MiB within a few hundred requests).
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { SERVER_NODE_FLAGS } from '../server/node-flags.js';
import { runCli } from './helpers/cli.js';

const DOCROOT = 'test/fixtures/docroot';
const YOUNG_GENERATION_CAP = 2 * 4 * 1024 * 1024;

t.test('a server started by the launcher keeps the main thread\'s young generation small under load', async (t) => {
  const run = runCli(['--docroot', DOCROOT, '--port', '0', '--workers', '1', '--admin-port', '0', '--admin-host', '127.0.0.1'], {}, { asExecutable: true });
  const url = await run.listening;
  t.same(readFileSync(`/proc/${run.child.pid}/cmdline`, 'utf8').split('\0').slice(1, 1 + SERVER_NODE_FLAGS.length), SERVER_NODE_FLAGS, 'node got the flags');
  const adminUrl = run.lines.find((line) => line.msg === 'listening')!.adminUrl as string;
  // Concurrent requests, so some of what the main thread allocates lives through a scavenge.
  const client = async () => {
    for (let i = 0; i < 150; i++) await (await fetch(`${url}/index.php`)).arrayBuffer();
  };
  await Promise.all(Array.from({ length: 8 }, client));
  const metrics = await (await fetch(`${adminUrl}/metrics`)).text();
  const young = Number(/^nodejs_heap_space_size_total_bytes\{space="new"\} (\d+)/m.exec(metrics)?.[1]);
  t.ok(young > 0, 'the metric is there');
  t.ok(young <= YOUNG_GENERATION_CAP, `young generation ${young} bytes ≤ ${YOUNG_GENERATION_CAP}`);
  run.child.kill('SIGTERM');
  t.equal(await run.exit, 0);
});
