/**
 * The first request of a worker started from a kept image (kept-image.ts): its PHP remembers the
 * last run, and a restart must show what changed while the server was down, as a fresh PHP would.
 *
 * - Paths that resolve elsewhere now (a `current` symlink switched to a new release, a file gone):
 *   the realpath cache would keep resolving them as before for realpath_cache_ttl; it is emptied.
 * - Changed files: opcache compares a file's time only revalidate_freq seconds after its last check,
 *   and a quick restart comes sooner than that after the image was taken: every cached script is
 *   checked here (opcache_invalidate without force drops only the ones whose file changed or went;
 *   kept images require validate_timestamps).
 * - The files the server writes into each worker (`internalFiles`: the prepend holds this start's
 *   self-call token): their compiled copies go.
 */
export const KEPT_IMAGE_REFRESH_PATH = '/internal/shared/kept-image-refresh.php';

/** The script at KEPT_IMAGE_REFRESH_PATH, which each worker writes before /internal turns read-only (run after a reset too). */
export function keptImageRefreshScript(internalFiles: string[]): string {
  const files = Buffer.from(JSON.stringify(internalFiles)).toString('base64');
  return `<?php
clearstatcache(true);
if (function_exists('opcache_get_status') && ini_get('opcache.enable')) {
  $status = opcache_get_status(true);
  foreach (array_keys(is_array($status) ? ($status['scripts'] ?? []) : []) as $script) opcache_invalidate($script, false);
  foreach (json_decode(base64_decode('${files}'), true) as $file) {
    if (opcache_is_script_cached($file)) opcache_invalidate($file, true);
  }
}`;
}
