/**
 * What the server places in the guest under /internal (php.ini, the prepend file) is read-only to
 * PHP, also through a symlink; a script that tries to tamper with it changes no later response.
 * Real php.wasm, one worker, so the next request runs in the same instance.
 */
import t from 'tap';
import { startTestServer } from './helpers/server.js';

t.test('a script cannot change, add, remove or rename anything under /internal', async (t) => {
  const server = await startTestServer({ workers: 1 });
  t.teardown(() => server.close());
  const before = await (await fetch(`${server.url}/pid.php`)).json() as { pid: number };
  const tamper = await fetch(`${server.url}/tamper-internal.php`);
  t.equal(tamper.status, 200);
  const result = await tamper.json() as Record<string, unknown>;
  t.equal(result.prepend, '/internal/shared/cgi-prepend.php');
  for (const attempt of ['append', 'via_symlink', 'ini', 'new_file', 'unlink', 'rename', 'mkdir']) {
    t.equal(result[attempt], false, `${attempt} refused`);
  }
  t.equal(result.read, true, 'reading is fine');
  const after = await fetch(`${server.url}/pid.php`);
  t.equal(after.headers.get('x-tampered'), null, 'later responses of that worker are unaffected');
  t.equal((await after.json() as { pid: number }).pid, before.pid, 'the same worker answered');
});
