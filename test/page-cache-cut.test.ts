/**
 * The page cache against hostile and slow clients: a visitor who leaves in the middle of a page must
 * not leave a cut copy of it for everyone else.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import t from 'tap';
import { startTestServer, tempDir } from './helpers/server.js';
import { until } from './helpers/until.js';
import { reportSetupFailures } from './helpers/setup-failures.js';

reportSetupFailures();

const docroot = join(tempDir(t, 'pws-page-cut-'), 'site');
mkdirSync(docroot);
// A page PHP writes in pieces, as a long WordPress page is flushed while it renders.
writeFileSync(join(docroot, 'index.php'), `<?php
for ($i = 0; $i < 40; $i++) { echo str_repeat('x', 16384), "\\n"; flush(); usleep(20000); }
echo 'END OF PAGE';
`);
const server = await startTestServer({ docroot, pageCache: true, compress: false, workers: 1 });
t.teardown(() => server.close());

t.test('a client that leaves mid-page leaves no cut page in the cache', async (t) => {
  await new Promise<void>((resolve) => {
    const req = request(`${server.url}/`, (response) => {
      response.once('data', () => { req.destroy(); resolve(); });
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.end();
  });
  // The server has finished with that request (PHP saw the client leave) before the next one asks.
  await until('the cut request to be logged', () => server.logs.some((entry) => entry.msg === 'request' && entry.path === '/'));
  const next = await fetch(`${server.url}/`);
  const body = await next.text();
  t.not(next.headers.get('x-cache'), 'HIT', 'the cut page was not kept');
  t.match(body, /END OF PAGE$/, 'the next visitor gets the whole page');
  const after = await fetch(`${server.url}/`);
  t.equal(after.headers.get('x-cache'), 'HIT', 'a page read to its end is kept');
  t.match(await after.text(), /END OF PAGE$/);
  const head = await fetch(`${server.url}/`, { method: 'HEAD' });
  t.equal(head.headers.get('content-length'), String(Buffer.byteLength(body)), "a HEAD answered from the cache has the page's length");
});
