/** bench/load.ts: a count-bounded load ends at that many responses, even when the server closes connections. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { runLoad } from '../bench/load.js';

t.test('ends at maxRequests responses although the server closes every 10th connection use', async (t) => {
  let served = 0;
  const perConnection = new WeakMap<object, number>();
  const server = createServer((req, res) => {
    served++;
    const n = (perConnection.get(req.socket) ?? 0) + 1;
    perConnection.set(req.socket, n);
    // As ours does after --max-requests-per-connection: the last answer on a connection says close.
    res.writeHead(200, n % 10 === 0 ? { connection: 'close' } : {});
    res.end(req.url);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const { port } = server.address() as AddressInfo;
  // A duration far past tap's timeout: only the count can end it in time.
  const result = await runLoad(`http://127.0.0.1:${port}`, { connections: 4, durationSeconds: 600, maxRequests: 500, timeoutSeconds: 10, paths: ['/a', '/b'] });
  t.equal(result.requests, 500, 'counted responses reach the bound');
  t.equal(result.errors, 0);
  t.ok(result.seconds < 600, 'the window is up to the last response, not the duration');
  t.ok(served >= 500);
});
