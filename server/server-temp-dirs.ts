/**
 * The server's private folders in the system's temp folder (the warm image, spooled request bodies).
 * Each is removed when the server closes; a server that was killed (SIGKILL, OOM, a crash) leaves
 * its own, and a warm image is ~40 MB of the site's compiled code. Their names carry the process id,
 * so a later start removes the folders of servers whose process is gone.
 */
import { lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processRuns } from './process-runs.js';

export type ServerTempKind = 'image' | 'bodies';

const NAME = /^php-wasm-server-(?:image|bodies)-(\d+)-[A-Za-z0-9]{6}$/;

/** A new private (0700) folder of this process, e.g. php-wasm-server-image-4242-Ab3xYz. */
export function makeServerTempDir(kind: ServerTempKind, root = tmpdir()): string {
  return mkdtempSync(join(root, `php-wasm-server-${kind}-${process.pid}-`));
}

/**
 * Removes the folders left by servers whose process is gone: only this user's, never a live
 * process's, never this process's (several servers may run in one process, as in tests). A process
 * id reused since leaves its folder for a later start. Returns the paths removed.
 */
export function sweepDeadServerTempDirs(root = tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return removed;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    const pid = Number(NAME.exec(name)?.[1]);
    if (!pid || pid === process.pid || processRuns(pid)) continue;
    const path = join(root, name);
    try {
      const stat = lstatSync(path);
      if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid)) continue;
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    } catch {
      // Gone meanwhile, or not ours to remove: either way nothing to do.
    }
  }
  return removed;
}
