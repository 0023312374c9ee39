/**
 * Folders mounted inside the docroot (`--mount HOST:/docroot/sub`, WordPress's `--uploads`): PHP sees
 * them there through the mount, and the router and the static server must see them at the same
 * place, or a file PHP just wrote (an uploaded image) would be a 404 for the browser.
 */
import { realpathSync } from 'node:fs';
import { posix } from 'node:path';
import type { Mount } from './config/schema.js';

export interface Overlay {
  /** Docroot-relative folder the mount covers ('wp-content/uploads'). */
  prefix: string;
  /** The mounted host folder (a real path). */
  root: string;
}

/** The mounts that lie inside `guestDocroot`, longest first (a deeper mount wins over one that holds it). */
export function docrootOverlays(mounts: readonly Mount[], guestDocroot: string): Overlay[] {
  const base = guestDocroot.replace(/\/+$/, '') + '/';
  return mounts
    .filter((mount) => posix.normalize(mount.guest).startsWith(base))
    .map((mount) => ({ prefix: posix.normalize(mount.guest).slice(base.length).replace(/\/+$/, ''), root: realpathSync(mount.host) }))
    .filter((overlay) => overlay.prefix !== '')
    .sort((a, b) => b.prefix.length - a.prefix.length);
}

/** Where a docroot-relative path lives on the host: below an overlay's folder, or below the docroot. */
export function locateInSite(docroot: string, overlays: readonly Overlay[], relPath: string): { root: string; relPath: string; overlay: boolean } {
  for (const overlay of overlays) {
    if (relPath === overlay.prefix) return { root: overlay.root, relPath: '', overlay: true };
    if (relPath.startsWith(overlay.prefix + '/')) return { root: overlay.root, relPath: relPath.slice(overlay.prefix.length + 1), overlay: true };
  }
  return { root: docroot, relPath, overlay: false };
}
