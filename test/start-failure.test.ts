/**
 * A server that cannot listen (its port is taken) fails to start with the system's error and lets go
 * of what it held while starting: the site lock (a `php` job on the site runs afterwards), the pool.
 */
import { createServer } from 'node:net';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { lockSite } from '../server/site-lock.js';
import { FIXTURE_DOCROOT, startTestServer, tempDir } from './helpers/server.js';

t.test('a port in use: the start fails with EADDRINUSE and the site is free again', async (t) => {
  const docroot = join(tempDir(t), 'site');
  cpSync(FIXTURE_DOCROOT, docroot, { recursive: true });
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => taken.close());
  const port = (taken.address() as { port: number }).port;
  await t.rejects(startTestServer({ docroot, host: '127.0.0.1', port, workers: 1 }), { code: 'EADDRINUSE' });
  // A server holds the site shared, a job exclusively: this throws while a failed start still holds it.
  const job = lockSite(docroot, 'job');
  job.release();
  t.pass('a job gets the site');
  const server = await startTestServer({ docroot, port: 0, workers: 1 });
  t.equal((await fetch(`${server.url}/index.php`)).status, 200, 'and a server on a free port starts');
  await server.close();
});
