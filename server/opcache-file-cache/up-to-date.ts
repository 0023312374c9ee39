import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Whether every script already has a compiled file newer than its source, so the compiler need not
 * boot php.wasm at all (a restart with nothing changed). Only a shortcut: opcache itself compares
 * the source's modification time with the one it stored, and a worker compiles what fails that
 * check. opcache keeps its files in `<cacheDir>/<system id>/<guest path>.bin`; the folder holds one
 * system id (cache-folder.ts empties it for another PHP), so with none or several this says no.
 */
export function allCompiled(cacheDir: string, docroot: string, guestDocroot: string, scripts: string[]): boolean {
  let systemIds: string[];
  try {
    systemIds = readdirSync(cacheDir, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  } catch {
    return false;
  }
  if (systemIds.length !== 1) return false;
  const compiledRoot = join(cacheDir, systemIds[0]!);
  return scripts.every((guest) => {
    try {
      return statSync(`${compiledRoot}${guest}.bin`).mtimeMs >= statSync(join(docroot, guest.slice(guestDocroot.length))).mtimeMs;
    } catch {
      return false;
    }
  });
}
