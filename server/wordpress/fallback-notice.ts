/**
 * A site assembled from the bundled WordPress because the current one could not be fetched says so
 * to its administrators (and in the log at each start), naming the version, until it is updated.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { installedVersion } from './assemble.js';
import { phpString } from './wp-config.js';

/** In the folder the preset never serves. */
const MARKER = join('wp-content', 'database', 'php-wasm-server-assembly.json');

interface Marker {
  version: string;
  reason: string;
}

export function recordFallback(dir: string, reason: string): void {
  const marker: Marker = { version: installedVersion(dir), reason };
  writeFileSync(join(dir, MARKER), JSON.stringify(marker));
}

/** The still-applicable fallback (the site still runs the version it was assembled with), if any. */
export function pendingFallback(dir: string): Marker | undefined {
  let marker: Marker;
  try {
    marker = JSON.parse(readFileSync(join(dir, MARKER), 'utf8')) as Marker;
  } catch {
    return undefined;
  }
  return marker.version === installedVersion(dir) ? marker : undefined;
}

/** PHP (run before WordPress) showing the notice on admin screens to those who may update. */
export function fallbackNotice(dir: string): string {
  const marker = pendingFallback(dir);
  if (!marker) return '';
  const text = `This site runs WordPress ${marker.version}, the version bundled with php-wasm-server, because the current release could not be fetched when the site was created (${marker.reason}). Update it under Dashboard → Updates.`;
  return `$GLOBALS['wp_filter']['admin_notices'][10][] = ['accepted_args' => 0, 'function' => static function () { if (current_user_can('update_core')) printf('<div class="notice notice-warning"><p>%s</p></div>', esc_html(${phpString(text)})); }];`;
}
