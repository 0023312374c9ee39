import { realpathSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import type { DocrootView, EntryKind } from './routing.js';

/**
 * The real docroot as the router sees it. A symlink is followed only while it stays inside the
 * docroot; one that points outside reads as absent, so neither PHP nor the static server reach it.
 */
export function createDocrootView(docroot: string): DocrootView {
  const root = realpathSync(docroot);
  const rootPrefix = root.endsWith(sep) ? root : root + sep;
  return {
    kind(relPath: string): EntryKind {
      try {
        const real = realpathSync.native(join(root, relPath));
        if (real !== root && !real.startsWith(rootPrefix)) return null;
        const stat = statSync(real);
        return stat.isFile() ? 'file' : stat.isDirectory() ? 'dir' : null;
      } catch {
        return null;
      }
    },
  };
}
