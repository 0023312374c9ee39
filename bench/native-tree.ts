/**
 * The native servers' WordPress: a copy of the tree our server assembled. With SQLite, the two
 * guest paths php.wasm needs (wp-config.php's DB_DIR, the SQLite drop-in's plugin folder) are
 * rewritten to the copy's real host path. With MySQL, wp-config.php is ours plus what our server
 * defines before WordPress loads (the connection; the bench's --wordpress-org false and --file-mods
 * false), which php-fpm has no one to define. The database is not copied: the copy is installed on
 * its own, the same way.
 */
import { cpSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { GUEST_DOCROOT } from '../server/paths.js';
import type { DbConnection } from './mariadb.js';
import { HELLO_SCRIPT, PROBE_SCRIPT } from './site.js';

const DB_RELATIVE = join('wp-content', 'database', '.ht.sqlite');

export function nativeDbFile(copyDir: string): string {
  return join(copyDir, DB_RELATIVE);
}

/** Copies sourceDir to copyDir once (an existing complete copy is reused) and rewrites its paths. */
export function prepareNativeTree(sourceDir: string, copyDir: string): { copied: boolean } {
  const copied = copyOnce(sourceDir, copyDir);
  rewriteGuestPaths(join(copyDir, 'wp-config.php'), copyDir);
  rewriteGuestPaths(join(copyDir, 'wp-content', 'db.php'), copyDir);
  return { copied };
}

/**
 * The same for a MySQL site: copied once, and wp-config.php written every run from ours (the
 * database's port changes from run to run) with DB_HOST, DB_USER, DB_PASSWORD and DB_NAME defined.
 */
export function prepareNativeMysqlTree(sourceDir: string, copyDir: string, db: DbConnection): { copied: boolean } {
  if (existsSync(join(sourceDir, 'wp-content', 'db.php'))) {
    throw new Error(`${sourceDir} has the SQLite drop-in wp-content/db.php: not a MySQL site (delete the bench's data folder or use --fresh)`);
  }
  const copied = copyOnce(sourceDir, copyDir);
  const ours = readFileSync(join(sourceDir, 'wp-config.php'), 'utf8');
  writeFileSync(join(copyDir, 'wp-config.php'), withServerConstants(ours, db));
  return { copied };
}

/** wp-config.php with what our server's prepend file defines for the bench's MySQL site, first. */
function withServerConstants(wpConfig: string, db: DbConnection): string {
  const defined = ['DB_HOST', 'DB_USER', 'DB_PASSWORD', 'DB_NAME'].filter((name) => new RegExp(`define\\s*\\(\\s*['"]${name}['"]`).test(wpConfig));
  if (defined.length) throw new Error(`our wp-config.php defines ${defined.join(', ')} itself: not the MySQL wp-config.php the server writes`);
  if (!wpConfig.startsWith('<?php\n')) throw new Error('our wp-config.php does not start with "<?php"');
  const php = (text: string) => `'${text.replace(/[\\']/g, (c) => `\\${c}`)}'`;
  const lines = [
    '// Added by the php-wasm-server bench for php-fpm: what php-wasm-server defines for its copy of this',
    '// site (--db and WORDPRESS_DB_PASSWORD; --wordpress-org false; --file-mods false). The rest is its file.',
    ...Object.entries({ DB_HOST: `${db.host}:${db.port}`, DB_USER: db.user, DB_PASSWORD: db.password, DB_NAME: db.name })
      .map(([name, value]) => `define( ${php(name)}, ${php(value)} );`),
    "define( 'WP_HTTP_BLOCK_EXTERNAL', true );",
    "define( 'DISALLOW_FILE_MODS', true );",
  ];
  return `<?php\n${lines.join('\n')}\n${wpConfig.slice('<?php\n'.length)}`;
}

/** Copies sourceDir to copyDir unless a complete copy is there (without the bench's scripts and SQLite files). */
function copyOnce(sourceDir: string, copyDir: string): boolean {
  if (existsSync(join(copyDir, 'wp-settings.php'))) return false;
  const partial = `${copyDir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  rmSync(copyDir, { recursive: true, force: true });
  const skip = new Set([HELLO_SCRIPT, PROBE_SCRIPT]);
  const keep = (src: string) => {
    const rel = relative(sourceDir, src);
    return !skip.has(rel) && !rel.startsWith(DB_RELATIVE); // also -wal/-shm/-journal
  };
  cpSync(sourceDir, partial, { recursive: true, filter: keep });
  renameSync(partial, copyDir);
  return true;
}

/** Replaces quoted '/docroot/...' and '/docroot' literals with the host path; fails if any is left. */
function rewriteGuestPaths(file: string, hostDir: string): void {
  const source = readFileSync(file, 'utf8');
  const guest = GUEST_DOCROOT.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const hostLiteral = hostDir.replace(/[\\']/g, (c) => '\\' + c); // inside a PHP '...' string
  const rewritten = source.replace(new RegExp(`'${guest}(?=[/'])`, 'g'), () => `'${hostLiteral}`);
  if (new RegExp(`'${guest}[/']`).test(rewritten)) throw new Error(`${file}: guest path ${GUEST_DOCROOT} left after rewriting`);
  if (rewritten !== source) writeFileSync(file, rewritten);
}
