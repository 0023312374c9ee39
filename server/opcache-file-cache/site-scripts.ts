import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface ScriptLimits {
  /** opcache.max_accelerated_files in config/php.ini: more would never be cached anyway. */
  maxScripts: number;
  /** A bigger .php file is left to the workers (generated data files; a hostile upload). */
  maxScriptBytes: number;
  /** All files together: a compiled file can be ~8× its source (a 2 MB array literal: 16.8 MB). */
  maxTotalBytes: number;
  /** Directory entries looked at, files or not: the walk of a huge tree ends. */
  maxEntries: number;
}

export const SCRIPT_LIMITS: ScriptLimits = { maxScripts: 10_000, maxScriptBytes: 1024 * 1024, maxTotalBytes: 64 * 1024 * 1024, maxEntries: 200_000 };

/**
 * The site's PHP files as guest paths, for the compiler: regular .php files under the docroot within
 * `limits`. Symbolic links are not followed (PHP is refused them too: sandbox/no-host-symlinks.ts),
 * hidden folders (.git) are skipped, and so are `hidden` guest paths: mounts over the docroot, whose
 * host files below are not what PHP sees there.
 */
export function siteScripts(docroot: string, guestDocroot: string, hidden: string[] = [], limits: Partial<ScriptLimits> = {}): string[] {
  const { maxScripts, maxScriptBytes, maxTotalBytes, maxEntries } = { ...SCRIPT_LIMITS, ...limits };
  const hiddenSet = new Set(hidden.map((path) => path.replace(/\/+$/, '')));
  const found: string[] = [];
  let totalBytes = 0;
  let entriesSeen = 0;
  const pending: Array<{ host: string; guest: string }> = [{ host: docroot, guest: guestDocroot }];
  while (pending.length > 0 && found.length < maxScripts && entriesSeen < maxEntries) {
    const dir = pending.pop()!;
    let entries;
    try {
      entries = readdirSync(dir.host, { withFileTypes: true });
    } catch {
      continue; // removed or unreadable meanwhile: nothing to compile there
    }
    for (const entry of entries) {
      if (++entriesSeen > maxEntries || found.length >= maxScripts) break;
      const host = join(dir.host, entry.name);
      const guest = `${dir.guest}/${entry.name}`;
      if (hiddenSet.has(guest)) continue;
      if (entry.isDirectory()) {
        if (!entry.name.startsWith('.')) pending.push({ host, guest });
      } else if (entry.isFile() && entry.name.endsWith('.php')) {
        let size: number;
        try {
          size = statSync(host).size;
        } catch {
          continue;
        }
        if (size > maxScriptBytes || totalBytes + size > maxTotalBytes) continue;
        totalBytes += size;
        found.push(guest);
      }
    }
  }
  return found.sort();
}
