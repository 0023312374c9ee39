/**
 * The native servers' WordPress: a copy of the tree our server assembled, with the two guest paths
 * php.wasm needs (wp-config.php's DB_DIR, the SQLite drop-in's plugin folder) rewritten to the
 * copy's real host path. The database is not copied: the copy is installed on its own, the same way.
 */
import { cpSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { GUEST_DOCROOT } from '../server/paths.js';
import { HELLO_SCRIPT, PROBE_SCRIPT } from './site.js';

const DB_RELATIVE = join('wp-content', 'database', '.ht.sqlite');

export function nativeDbFile(copyDir: string): string {
  return join(copyDir, DB_RELATIVE);
}

/** Copies sourceDir to copyDir once (an existing complete copy is reused) and rewrites its paths. */
export function prepareNativeTree(sourceDir: string, copyDir: string): { copied: boolean } {
  let copied = false;
  if (!existsSync(join(copyDir, 'wp-settings.php'))) {
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
    copied = true;
  }
  rewriteGuestPaths(join(copyDir, 'wp-config.php'), copyDir);
  rewriteGuestPaths(join(copyDir, 'wp-content', 'db.php'), copyDir);
  return { copied };
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
