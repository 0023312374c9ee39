/**
 * The `php` command against a WordPress site, as WP-CLI would be run (`php-wasm-server php
 * wp-cli.phar --path=/docroot …`): no WP-CLI phar can be had here (neither npm nor Debian carry
 * one), so a phar built by the command itself and a script that loads WordPress stand in for it.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { tempDir } from './helpers/server.js';
import { startTestWordPress } from './helpers/wordpress.js';
import { runPhpJob } from './helpers/cli.js';

const job = (args: string[], cwd: string) => runPhpJob(args, { cwd });

t.test('a phar beside the site runs against it, and WordPress loads in the job', async (t) => {
  const dataDir = tempDir(t, 'pws-php-wp-');
  const server = await startTestWordPress(dataDir, { siteTitle: 'Job Site', adminUser: 'admin', adminPassword: 'correct horse battery staple', adminEmail: 'owner@example.com' });
  const site = server.config.dir;
  await server.close(); // a job and a server never write the same site at once

  // Build a small CLI phar (stub + one command) with the php command itself.
  const build = join(dataDir, 'build');
  mkdirSync(build);
  writeFileSync(join(build, 'make.php'), `<?php
$phar = new Phar('/docroot/tool.phar');
$phar->addFromString('main.php', '<?php
$path = null;
$rest = [];
foreach (array_slice($argv, 1) as $arg) {
  if (str_starts_with($arg, "--path=")) $path = substr($arg, 7); else $rest[] = $arg;
}
define("WP_USE_THEMES", false);
require $path . "/wp-load.php";
[$command, $name] = $rest;
if ($command === "option") { echo get_option($name), "\\\\n"; exit(0); }
if ($command === "post-create") { echo wp_insert_post(["post_title" => $name, "post_status" => "publish"]), "\\\\n"; exit(0); }
fwrite(STDERR, "unknown command $command\\\\n");
exit(1);
');
$phar->setStub("#!/usr/bin/env php\\n<?php Phar::mapPhar('tool.phar'); require 'phar://tool.phar/main.php'; __HALT_COMPILER();");
echo "built\\n";
`);
  const built = await job(['--docroot', build, '--ini', 'phar.readonly=0', join(build, 'make.php')], dataDir);
  t.match(built, { code: 0, stdout: 'built\n' }, `the phar was built: ${built.stderr}`);
  copyFileSync(join(build, 'tool.phar'), join(dataDir, 'tool.phar'));

  const option = await job(['--docroot', site, 'tool.phar', '--path=/docroot', 'option', 'blogname'], dataDir);
  t.match(option, { code: 0, stdout: 'Job Site\n' }, `the option is read from the site's database: ${option.stderr}`);
  const created = await job(['--docroot', site, 'tool.phar', '--path=/docroot', 'post-create', 'Written by a job'], dataDir);
  t.equal(created.code, 0, created.stderr);
  t.match(created.stdout, /^\d+\n$/);
  const failed = await job(['--docroot', site, 'tool.phar', '--path=/docroot', 'frobnicate', 'x'], dataDir);
  t.match(failed, { code: 1, stderr: /unknown command frobnicate/ });

  const again = await startTestWordPress(dataDir, {});
  t.teardown(() => again.close());
  const page = await (await fetch(`${again.url}/?s=${encodeURIComponent('Written by a job')}`)).text();
  t.match(page, /Written by a job/, 'the server serves what the job wrote');
});
