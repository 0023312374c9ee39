/**
 * The first request of a worker started from a kept image (kept-image.ts), and of one reset to it:
 * its PHP remembers the last run, and a restart must show what changed while the server was down,
 * as a fresh PHP would.
 *
 * - Paths that resolve elsewhere now (a `current` symlink switched to a new release): the realpath
 *   cache would keep resolving them as before, and opcache keeps scripts under the names they were
 *   included by (with `*_once`, a name it answers without resolving it). The image was taken right
 *   after a warm-up, so its realpath cache names every path its scripts came through: each that went
 *   through a symlink is resolved afresh, each folder is asked whether it became one, and if any
 *   resolves elsewhere now, opcache is emptied. The cache is emptied in any case.
 * - Changed files: opcache compares a file's time only revalidate_freq seconds after its last check,
 *   and a quick restart may come sooner than that after the image was taken: every cached script's
 *   time is compared with its file's here, and a changed or missing one is dropped. (Not with
 *   opcache_invalidate on each: that also tries to delete its copy in the file cache, which here is
 *   read-only: 150 µs a script.) Kept images require validate_timestamps (iniAllowsKeptImages).
 * - The worker's own files under /internal (written at each boot; the prepend holds this start's
 *   self-call token): their compiled copies go.
 *
 * Prints what it found out of date, as JSON: `paths` resolving elsewhere, changed `scripts`.
 */
export const KEPT_IMAGE_REFRESH_PATH = '/internal/shared/kept-image-refresh.php';

/** Printed before the result, which is what follows its last occurrence. */
const MARKER = 'kept-image-refresh:';

/** What a refresh found out of date: the image is then worth replacing. */
export interface KeptImageStaleness {
  paths: number;
  scripts: number;
}

/** The script at KEPT_IMAGE_REFRESH_PATH, which each worker writes before /internal turns read-only. */
export const KEPT_IMAGE_REFRESH_SCRIPT = `<?php
ini_set('display_errors', '0');
$resolved = function_exists('realpath_cache_get') ? realpath_cache_get() : [];
clearstatcache(true);
$paths = 0;
foreach ($resolved as $path => $entry) {
  $path = (string) $path;
  $then = is_array($entry) ? ($entry['realpath'] ?? null) : null;
  if ($path !== $then ? realpath($path) !== $then : (is_array($entry) && !empty($entry['is_dir']) && is_link($path))) $paths++;
}
$scripts = 0;
if (function_exists('opcache_get_status') && ini_get('opcache.enable')) {
  if ($paths > 0) {
    opcache_reset();
  } else {
    $status = opcache_get_status(true);
    foreach (is_array($status) ? ($status['scripts'] ?? []) : [] as $script => $info) {
      if (strncmp($script, '/internal/', 10) === 0) {
        opcache_invalidate($script, true);
      } elseif (($info['timestamp'] ?? null) === 0) {
        continue; // dropped already (invalidated, or found changed): opcache compiles it afresh at its next use
      } elseif (!isset($info['timestamp']) || @filemtime($script) !== $info['timestamp']) {
        opcache_invalidate($script, true);
        $scripts++;
      }
    }
  }
}
echo "\\n${MARKER}" . json_encode(['paths' => $paths, 'scripts' => $scripts]);`;

/** What the script printed; a refresh that printed something else found everything out of date. */
export function parseStaleness(output: string): KeptImageStaleness {
  try {
    // After the marker: a prepend of the site's, say, may print before the script.
    const parsed = JSON.parse(output.slice(output.lastIndexOf(MARKER) + MARKER.length)) as Partial<KeptImageStaleness>;
    if (Number.isInteger(parsed.paths) && Number.isInteger(parsed.scripts)) return { paths: parsed.paths!, scripts: parsed.scripts! };
  } catch {
    // below
  }
  return { paths: -1, scripts: -1 };
}
