/**
 * File modes on host folders, over real HTTP against real php.wasm: no setuid/setgid/sticky bit,
 * nothing beyond the umask, created files and folders get the umask, chown fails, dl() is off.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { startTestServer, tempDir } from './helpers/server.js';

t.test('host file modes follow the server: no special bits, the umask, no chown, no dl()', async (t) => {
  const data = tempDir(t, 'pws-modes-');
  const server = await startTestServer({ workers: 1, mounts: [{ host: data, guest: '/data', readOnly: false }], ini: { enable_dl: '1' } });
  t.teardown(() => server.close());
  const umask = process.umask();
  const response = await fetch(`${server.url}/host-modes.php`);
  t.equal(response.status, 200);
  const result = await response.json() as Record<string, unknown>;
  const mode = (name: string) => statSync(join(data, name)).mode & 0o7777;

  t.equal(mode('created.txt'), 0o666 & ~umask, 'a created file gets the umask (0644 at 022)');
  t.equal(mode('created-dir') & 0o7000, 0, 'no setgid or sticky bit on the folder');
  t.equal(mode('created-dir'), 0o777 & ~umask, 'the folder: at most what the umask allows');
  t.equal(mode('suid') & 0o7000, 0, 'chmod 04755 leaves no setuid bit on the host');
  t.equal(mode('suid'), 0o755 & ~umask, 'the permission bits asked for, within the umask');
  t.equal(result.chown, false, 'chown() fails');
  t.equal(result.chgrp, false, 'chgrp() fails');
  t.equal(result.lchown, false, 'lchown() fails');
  t.equal(result.enable_dl, '0', 'enable_dl stays off whatever --ini says');
  t.not(result.dl, true, 'dl() loads nothing');
});
