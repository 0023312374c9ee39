import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** opcache.max_accelerated_files in config/php.ini: more would never be cached anyway. */
export const MAX_SCRIPTS = 10_000;
/** A bigger .php file is left to the workers (generated data files; a hostile upload). */
export const MAX_SCRIPT_BYTES = 2 * 1024 * 1024;

/**
 * The site's PHP files as guest paths, for the compiler: regular .php files under the docroot,
 * at most MAX_SCRIPTS, none over MAX_SCRIPT_BYTES. Symbolic links are not followed (PHP is refused
 * them too: sandbox/no-host-symlinks.ts) and hidden folders (.git) are skipped.
 */
export function siteScripts(docroot: string, guestDocroot: string, { maxScripts = MAX_SCRIPTS, maxBytes = MAX_SCRIPT_BYTES } = {}): string[] {
  const found: string[] = [];
  const pending = [docroot];
  while (pending.length > 0 && found.length < maxScripts) {
    const dir = pending.pop()!;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue; // removed or unreadable meanwhile: nothing to compile there
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!entry.name.startsWith('.')) pending.push(path);
      } else if (entry.isFile() && entry.name.endsWith('.php') && found.length < maxScripts) {
        try {
          if (statSync(path).size > maxBytes) continue;
        } catch {
          continue;
        }
        found.push(`${guestDocroot}/${relative(docroot, path).split(sep).join('/')}`);
      }
    }
  }
  return found.sort();
}
