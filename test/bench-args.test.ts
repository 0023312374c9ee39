/**
 * The bench's --wordpress-version: `bundled` by default, passed to our server as given, and a site
 * for another version lives in its own data folder (a site is assembled once, so a shared folder
 * would measure the tree of whichever version came first); the report names the version measured.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { defaultDataDir, parseBenchArgs } from '../bench/args.js';
import { formatReport, newReport } from '../bench/report.js';
import { wordpressVersionOf } from '../bench/site.js';
import { tempDir } from './helpers/server.js';

t.test('--wordpress-version and the data folder it implies', async (t) => {
  const bundled = parseBenchArgs([], '/proj');
  t.equal(bundled.wordpressVersion, 'bundled');
  t.equal(bundled.dataDir, '/proj/var/bench', 'the bundled build keeps the usual folder');

  const zip = parseBenchArgs(['--wordpress-version', '/downloads/wordpress-7.1.zip'], '/proj');
  t.equal(zip.wordpressVersion, '/downloads/wordpress-7.1.zip', 'passed on as given');
  t.equal(zip.dataDir, '/proj/var/bench-wp-wordpress-7.1', 'a ZIP gets a folder named after the file');
  t.equal(parseBenchArgs(['--wordpress-version', '6.8.3'], '/proj').dataDir, '/proj/var/bench-wp-6.8.3');
  t.equal(parseBenchArgs(['--wordpress-version', 'latest'], '/proj').dataDir, '/proj/var/bench-wp-latest');
  t.equal(parseBenchArgs(['--wordpress-version', '6.8.3', '--data-dir', 'x'], '/proj').dataDir, '/proj/x', '--data-dir wins');
  t.equal(defaultDataDir('/a b/my build!.ZIP'), 'var/bench-wp-my-build-', 'odd characters do not reach the path');
});

t.test('the report names the WordPress measured', async (t) => {
  const dir = tempDir(t, 'pws-bench-wp-');
  mkdirSync(join(dir, 'wp-includes'));
  writeFileSync(join(dir, 'wp-includes', 'version.php'), "<?php\n$wp_version = '7.1.0';\n$wp_db_version = 1;\n");
  t.equal(wordpressVersionOf(dir), '7.1.0');
  t.equal(wordpressVersionOf(join(dir, 'nowhere')), undefined, 'no tree, no version');

  const r = newReport(parseBenchArgs(['--wordpress-version', '/z/wp.zip'], '/proj'));
  r.wordpress.version = wordpressVersionOf(dir);
  t.match(formatReport(r), /^WordPress: 7\.1\.0 \(--wordpress-version \/z\/wp\.zip\)$/m);
});
