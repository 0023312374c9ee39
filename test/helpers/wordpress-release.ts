import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import AdmZip from 'adm-zip';
import { pino } from 'pino';
import { assembleWordPress } from '../../server/wordpress/assemble.js';

/**
 * A WordPress release archive as WordPress.org publishes one (everything under `wordpress/`, no
 * wp-config.php, no plugins of ours), made from the bundled build with `version` written into
 * wp-includes/version.php, so a test can tell it from the bundled 6.5.
 */
export async function releaseZip(workDir: string, version: string): Promise<{ zip: Buffer; sha1: string }> {
  const tree = join(workDir, 'release-source');
  await assembleWordPress(tree, { log: pino({ level: 'silent' }) });
  const zip = new AdmZip();
  zip.addLocalFolder(tree, 'wordpress', (name) => !/^(wp-config\.php|wp-content[\\/](database|db\.php|plugins[\\/]sqlite-database-integration))/.test(name));
  const versionFile = zip.getEntry('wordpress/wp-includes/version.php')!.getData().toString('utf8').replace(/\$wp_version = '[^']+';/, `$wp_version = '${version}';`);
  zip.updateFile('wordpress/wp-includes/version.php', Buffer.from(versionFile));
  const bytes = zip.toBuffer();
  return { zip: bytes, sha1: createHash('sha1').update(bytes).digest('hex') };
}

/** The bundled SQLite plugin, announcing `version` (to tell a fetched plugin from the bundled one). */
export function sqlitePluginZip(version: string): Buffer {
  const require = createRequire(import.meta.url);
  const pkg = dirname(require.resolve('@wp-playground/wordpress-builds/package.json'));
  const zip = new AdmZip(join(pkg, 'src', 'sqlite-database-integration', 'sqlite-database-integration.zip'));
  const load = zip.getEntries().find((e) => /^[^/]+\/load\.php$/.test(e.entryName))!;
  zip.updateFile(load.entryName, Buffer.from(load.getData().toString('utf8').replace(/^(\s*\*?\s*Version:\s*)[\w.-]+/m, `$1${version}`)));
  return zip.toBuffer();
}
