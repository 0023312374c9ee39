/**
 * The bench's --wordpress-version: `bundled` by default, passed to our server as given, and a site
 * for another version lives in its own data folder (a site is assembled once, so a shared folder
 * would measure the tree of whichever version came first); the report names the version measured.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import t from 'tap';
import { defaultDataDir, parseBenchArgs } from '../bench/args.js';
import { formatReport, newReport } from '../bench/report.js';
import { recordWordPress, wordpressMismatch } from '../bench/site.js';
import { installedVersion } from '../server/wordpress/assemble.js';
import { tempDir } from './helpers/server.js';

t.test('--wordpress-version and the data folder it implies', async (t) => {
  const bundled = parseBenchArgs([], '/proj');
  t.equal(bundled.wordpressVersion, 'bundled');
  t.equal(bundled.dataDir, '/proj/var/bench', 'the bundled build keeps the usual folder');

  const downloads = tempDir(t, 'pws-bench-zip-');
  const zipPath = join(downloads, 'wordpress-7.1.zip');
  writeFileSync(zipPath, 'PK');
  const zip = parseBenchArgs(['--wordpress-version', zipPath], '/proj');
  t.equal(zip.wordpressVersion, zipPath, 'a ZIP is passed on as an absolute path');
  t.equal(zip.dataDir, '/proj/var/bench-wp-wordpress-7.1', 'a ZIP gets a folder named after the file');
  t.equal(parseBenchArgs(['--wordpress-version', relative(process.cwd(), zipPath)], '/proj').wordpressVersion, zipPath, 'a relative one is resolved where the bench was started');
  t.equal(parseBenchArgs(['--wordpress-version', '6.8.3'], '/proj').dataDir, '/proj/var/bench-wp-6.8.3');
  t.equal(parseBenchArgs(['--wordpress-version', '6.8'], '/proj').wordpressVersion, '6.8');
  t.equal(parseBenchArgs(['--wordpress-version', 'latest'], '/proj').dataDir, '/proj/var/bench-wp-latest');
  t.equal(parseBenchArgs(['--wordpress-version', '6.8.3', '--data-dir', 'x'], '/proj').dataDir, '/proj/x', '--data-dir wins');
  t.equal(defaultDataDir('/a b/my build!.ZIP'), 'var/bench-wp-my-build-', 'odd characters do not reach the path');
});

t.test('a --wordpress-version the server would refuse stops the bench before it starts anything', async (t) => {
  for (const bad of ['', '6.8.x', 'foo.txt', 'nightly']) {
    t.throws(() => parseBenchArgs(['--wordpress-version', bad], '/proj'), /--wordpress-version must be latest, bundled, X\.Y\[\.Z\] or a \.zip file/, JSON.stringify(bad));
  }
  t.throws(() => parseBenchArgs(['--wordpress-version', '/nowhere/wp.zip'], '/proj'), /no such file \/nowhere\/wp\.zip/);
});

t.test('a site assembled earlier for another version is flagged', async (t) => {
  t.equal(wordpressMismatch('6.8.3', '6.8.3'), undefined);
  t.equal(wordpressMismatch('6.8', '6.8.3'), undefined, 'X.Y takes any X.Y.Z');
  t.match(wordpressMismatch('7.1', '7.10.0'), /asked, but the site \(assembled earlier\) holds WordPress 7\.10\.0/, '7.1 is not 7.10');
  t.match(wordpressMismatch('6.8.3', '6.5.5'), /holds WordPress 6\.5\.5: use another --data-dir or --fresh/);
  t.match(wordpressMismatch('6.8.3', 'unknown'), /holds WordPress unknown:/, 'a tree without a version file');
  for (const loose of ['bundled', 'latest', '/x/wp.zip']) t.equal(wordpressMismatch(loose, '6.5.5'), undefined, `${loose}: nothing exact to compare`);
});

t.test('the report names the WordPress measured', async (t) => {
  const dir = tempDir(t, 'pws-bench-wp-');
  mkdirSync(join(dir, 'wp-includes'));
  writeFileSync(join(dir, 'wp-includes', 'version.php'), "<?php\n$wp_version = '7.1.0';\n$wp_db_version = 1;\n");
  t.equal(installedVersion(dir), '7.1.0', 'read with the server\'s own reader');
  t.equal(installedVersion(join(dir, 'nowhere')), 'unknown', 'no tree, no version');

  const r = newReport(parseBenchArgs(['--wordpress-version', '7.1.0'], '/proj'));
  recordWordPress(r, '7.1.0', dir);
  t.match(formatReport(r), /^WordPress: 7\.1\.0 \(--wordpress-version 7\.1\.0\)$/m);
  t.same(r.warnings, [], 'the version asked');
  const other = newReport(parseBenchArgs(['--wordpress-version', '6.8.3'], '/proj'));
  recordWordPress(other, '6.8.3', dir);
  t.match(other.warnings, [/--wordpress-version 6\.8\.3 was asked, but the site \(assembled earlier\) holds WordPress 7\.1\.0/], 'another version: a warning in the report');
});

t.test('replicas on MariaDB must hold the WordPress ours held', async (t) => {
  const { sameWordPress } = await import('../bench/replicas.js');
  const tree = (version: string) => {
    const dir = tempDir(t, 'pws-bench-replica-');
    mkdirSync(join(dir, 'wp-includes'));
    writeFileSync(join(dir, 'wp-includes', 'version.php'), `<?php\n$wp_version = '${version}';\n`);
    return dir;
  };
  const [a, b, c] = [tree('7.1.0'), tree('7.1.0'), tree('6.5.5')];
  t.doesNotThrow(() => sameWordPress([a, b], '7.1.0'));
  t.doesNotThrow(() => sameWordPress([a, b], undefined), 'ours unknown: the replicas still agree');
  t.throws(() => sameWordPress([a, c], '7.1.0'), /the replicas' WordPress trees differ .*6\.5\.5/, 'a replica that fell back to the bundled build');
  t.throws(() => sameWordPress([a, b], '6.5.5'), /ours: 6\.5\.5/, 'replicas that differ from ours');
});
