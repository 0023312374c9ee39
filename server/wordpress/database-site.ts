/**
 * Checks and files a MySQL/MariaDB site needs on disk, done when the server starts.
 */
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { DB_ERROR_DROPIN } from './database-php.js';
import type { WordPressConfig } from './options.js';

/** The SQLite integration's drop-in announces itself in its header. */
function isSqliteDropin(file: string): boolean {
  try {
    return /sqlite/i.test(readFileSync(file, 'utf8').slice(0, 4096));
  } catch {
    return false;
  }
}

/**
 * An existing SQLite site keeps its data in wp-content/database: pointing it at MySQL would show an
 * empty (or another) site, so the server refuses to start rather than guess. Moving a site between
 * databases is an export and an import, not a flag.
 */
export function checkDatabaseOfExistingSite(config: Pick<WordPressConfig, 'dir' | 'database'>): void {
  if (config.database.kind !== 'mysql') return;
  const dropin = join(config.dir, 'wp-content', 'db.php');
  if (existsSync(dropin) && isSqliteDropin(dropin)) {
    throw new Error(
      `${config.dir} is a SQLite site (wp-content/db.php is the SQLite integration): it cannot be served from MySQL/MariaDB ` +
        'as is. Use a new --dir for the MySQL site, or move the content (Tools → Export / Import), or drop --db / WORDPRESS_DB_HOST.',
    );
  }
}

/**
 * wp-content/db-error.php answers 503 when the database is unreachable (see DB_ERROR_DROPIN). Written
 * at assembly; restored at start on sites that lack it. A read-only tree is served without it.
 */
export async function ensureDbErrorDropin(dir: string, log: Logger): Promise<void> {
  const file = join(dir, 'wp-content', 'db-error.php');
  if (existsSync(file)) return;
  try {
    await fs.writeFile(file, DB_ERROR_DROPIN, { flag: 'wx' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    log.warn({ err: error, file }, 'could not write wp-content/db-error.php: an unreachable database gets WordPress\'s own 500 page instead of a 503');
  }
}
