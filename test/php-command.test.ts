/**
 * `php-wasm-server php [options] SCRIPT [ARGS…]`: PHP's command line in the server's sandbox, as a
 * real child process (stdin, stdout, stderr, exit code), and its lock against a running server.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { projectRoot } from '../server/paths.js';
import { locateScript, splitPhpCommandLine } from '../server/php-command.js';
import { runCli, runPhpJob as runJob } from './helpers/cli.js';
import { startTestServer, tempDir } from './helpers/server.js';

const CLI = join(projectRoot, 'bin', 'php-wasm-server.js');

t.test('the command line: options end at SCRIPT, everything after it is the script\'s', async (t) => {
  t.same(splitPhpCommandLine(['--docroot', 'site', '--ini=memory_limit=256M', 'wp-cli.phar', '--path=/docroot', 'option', 'get', 'home']),
    { options: ['--docroot', 'site', '--ini=memory_limit=256M'], script: 'wp-cli.phar', args: ['--path=/docroot', 'option', 'get', 'home'] });
  t.same(splitPhpCommandLine(['--', '-weird.php', '-x']), { options: [], script: '-weird.php', args: ['-x'] });
  t.same(splitPhpCommandLine(['--help']), { options: ['--help'], args: [] });
});

t.test('SCRIPT: inside the docroot or a mount it runs where it is; elsewhere it is copied in alone', async (t) => {
  const dir = tempDir(t);
  const docroot = join(dir, 'site');
  const tools = join(dir, 'tools');
  mkdirSync(join(docroot, 'bin'), { recursive: true });
  mkdirSync(tools);
  writeFileSync(join(docroot, 'bin', 'job.php'), '<?php');
  writeFileSync(join(tools, 'tool.phar'), 'x');
  symlinkSync(join(docroot, 'bin', 'job.php'), join(dir, 'link.php'));
  const config = { docroot, mounts: [{ host: tools, guest: '/tools', readOnly: true }] };
  t.same(locateScript('site/bin/job.php', dir, config), { guestPath: '/docroot/bin/job.php' });
  t.same(locateScript('link.php', dir, config), { guestPath: '/docroot/bin/job.php' }, 'a symlink runs as its target');
  t.same(locateScript(join(tools, 'tool.phar'), '/', config), { guestPath: '/tools/tool.phar' });
  writeFileSync(join(dir, 'wp-cli.phar'), 'x');
  t.same(locateScript('wp-cli.phar', dir, config), { guestPath: '/internal/job/wp-cli.phar', copyFrom: join(dir, 'wp-cli.phar') });
  t.same(locateScript('/docroot/only-inside.php', dir, config), { guestPath: '/docroot/only-inside.php' });
  t.throws(() => locateScript('missing.php', dir, config), /invalid script/);
});

t.test('a script gets its arguments, stdin, stdout, stderr and exit code, in the same sandbox as the server', async (t) => {
  const dir = tempDir(t);
  const docroot = join(dir, 'site');
  const data = join(dir, 'data');
  mkdirSync(docroot);
  mkdirSync(data);
  writeFileSync(join(data, 'note.txt'), 'from a mount');
  writeFileSync(join(docroot, 'job.php'), `<?php
fwrite(STDERR, "to stderr\\n");
echo json_encode([
  'argv' => $argv,
  'stdin' => stream_get_contents(STDIN),
  'sapi' => PHP_SAPI,
  'cwd' => getcwd(),
  'env' => getenv(),
  'passwd' => @file_get_contents('/etc/passwd'),
  'mount' => file_get_contents('/data/note.txt'),
  'exec' => function_exists('exec'),
  'connect' => @fsockopen('127.0.0.1', 9, $errno, $errstr, 1) !== false,
]), "\\n";
file_put_contents('/docroot/written.txt', 'by the job');
exit(7);
`);
  const result = await runJob(['--docroot', docroot, '--mount', `${data}:/data:ro`, '--env', 'GREETING=hi', 'job.php', 'one', '--two=2'], { cwd: docroot, input: 'line from stdin\n' });
  t.equal(result.code, 7, "PHP's exit code");
  t.equal(result.stderr, 'to stderr\n');
  const out = JSON.parse(result.stdout);
  t.same(out.argv, ['/docroot/job.php', 'one', '--two=2']);
  t.equal(out.stdin, 'line from stdin\n');
  t.equal(out.sapi, 'cli');
  t.equal(out.cwd, '/docroot');
  t.equal(out.env.GREETING, 'hi');
  t.notOk('HOME' in out.env || 'PATH_HOST' in out.env || 'USER' in out.env, 'no host environment');
  t.equal(out.passwd, false, 'the host is not visible');
  t.equal(out.mount, 'from a mount');
  t.equal(out.exec, false, 'no subprocesses');
  t.equal(out.connect, false, 'no network unless --allow-network');
  t.equal(readFileSync(join(docroot, 'written.txt'), 'utf8'), 'by the job', 'it writes where the server would');
});

t.test('a job refuses a site a server is serving, and a server refuses a site a job is running on', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'wait.php'), '<?php echo "job started\\n"; stream_get_contents(STDIN); echo "job done\\n";');
  writeFileSync(join(dir, 'hello.php'), '<?php echo "hello";');

  const server = await startTestServer({ docroot: dir, workers: 1 });
  const refusedJob = await runJob(['--docroot', dir, join(dir, 'hello.php')]);
  t.equal(refusedJob.code, 75, 'EX_TEMPFAIL: try again later');
  t.match(refusedJob.stderr, /is serving .*stop it first/);
  t.equal(refusedJob.stdout, '', 'the script never ran');
  await server.close();

  // A job that runs until its stdin closes holds the site meanwhile.
  const child = spawn(process.execPath, [CLI, 'php', '--docroot', dir, join(dir, 'wait.php')]);
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let jobOut = '';
  await new Promise<void>((resolve) => child.stdout.on('data', (chunk: Buffer) => { jobOut += chunk; if (jobOut.includes('job started')) resolve(); }));
  const refusedServer = runCli(['--docroot', dir, '--port', '0', '--workers', '1']);
  t.equal(await refusedServer.exit, 75);
  t.match(refusedServer.stderr(), /a php-wasm-server php job is running on/);
  child.stdin.end();
  t.equal(await new Promise((resolve) => child.on('close', resolve)), 0);
  t.match(jobOut, /job done/);

  const again = await startTestServer({ docroot: dir, workers: 1 });
  t.equal(await (await fetch(`${again.url}/hello.php`)).text(), 'hello', 'once the job ended, a server starts');
  await again.close();
});

t.test("a web request never reads the server's own stdin", async (t) => {
  const server = runCli(['--docroot', join(projectRoot, 'test', 'fixtures', 'docroot'), '--port', '0', '--workers', '1']);
  server.child.stdin.write('secret typed into the terminal\n');
  const url = await server.listening;
  t.equal(await (await fetch(`${url}/stdin.php`)).text(), '""');
  server.child.kill('SIGTERM');
  t.equal(await server.exit, 0);
});
