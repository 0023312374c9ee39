import type { PHP } from '@php-wasm/universal';

/** Placed in the guest at boot (server.ts), as opcache-status.php is: /internal is read-only afterwards. */
export const INVALIDATE_CODE_PATH = '/internal/shared/opcache-invalidate.php';

/**
 * Drops this instance's compiled copies of the changed files, and of every file under a changed
 * folder (a path ending in `/`), from the request body: a JSON list of guest paths, or "all". Only a
 * folder needs the list of cached scripts. force: the file may have been rewritten within the second
 * its copy was compiled (opcache compares whole-second times). A copy that cannot be dropped (its
 * file is gone, and opcache finds a script by its real path) or a body that does not decode empties
 * the whole opcache instead; a failure exits 1, so the worker hears of it.
 */
export const INVALIDATE_CODE_SCRIPT = `<?php
if (!function_exists('opcache_invalidate') || !ini_get('opcache.enable')) return;
$changed = json_decode(file_get_contents('php://input'), true);
$reset = !is_array($changed);
$folders = [];
foreach ($reset ? [] : $changed as $path) {
  if (!is_string($path)) { $reset = true; break; }
  if (substr($path, -1) === '/') { $folders[] = $path; continue; }
  if (opcache_is_script_cached($path) && !opcache_invalidate($path, true)) $reset = true;
}
if ($folders && !$reset) {
  $status = opcache_get_status(true);
  if (!is_array($status)) exit(1);
  foreach (array_keys($status['scripts'] ?? []) as $script) {
    foreach ($folders as $folder) {
      if (strncmp($script, $folder, strlen($folder)) === 0) {
        if (!opcache_invalidate($script, true)) $reset = true;
        break;
      }
    }
  }
}
if ($reset && !opcache_reset()) exit(1);`;

/** Past this many paths, or bytes of them, the worker empties its whole opcache instead (opcache holds 10,000 scripts by default). */
export const MAX_STALE_PATHS = 10_000;
export const MAX_STALE_BYTES = 256 * 1024;

/**
 * What this and other workers changed since this worker's last request: code files PHP wrote (see
 * code-writes.ts). Each php.wasm instance has its own opcache, which rechecks a file's time only
 * every opcache.revalidate_freq seconds (never, with --opcache-validate false), and then at
 * whole-second precision; under php-fpm one shared opcache hears WordPress's opcache_invalidate() for
 * every child. Without this, the theme editor's fatal-error check (a loopback request, run by
 * another worker) ran the code from before the edit, and a fatal edit was saved.
 */
export class StaleCode {
  private readonly paths = new Set<string>();
  private bytes = 0;
  private everything = false;

  /** Changed code this instance has not dropped yet. */
  get pending(): boolean {
    return this.everything || this.paths.size > 0;
  }

  add(paths: string[]): void {
    if (this.everything) return;
    for (const path of paths) {
      if (this.paths.has(path)) continue;
      this.paths.add(path);
      this.bytes += path.length + 3;
    }
    if (this.paths.size > MAX_STALE_PATHS || this.bytes > MAX_STALE_BYTES) this.dropEverything();
  }

  /** What the next invalidation run gets as its body; undefined: nothing changed. */
  take(): string | undefined {
    if (!this.everything && this.paths.size === 0) return undefined;
    const body = JSON.stringify(this.everything ? 'all' : [...this.paths]);
    this.everything = false;
    this.paths.clear();
    this.bytes = 0;
    return body;
  }

  /**
   * Before a request: drops the compiled copies of what changed (a PHP run of its own, ~1 ms). If the
   * run fails, the next one empties the whole opcache (once: a failing "all" is not retried).
   */
  async invalidateIn(php: PHP): Promise<void> {
    const body = this.take();
    if (body === undefined) return;
    let exitCode: number;
    try {
      exitCode = (await php.run({ scriptPath: INVALIDATE_CODE_PATH, method: 'POST', body: new TextEncoder().encode(body) })).exitCode;
    } catch (error) {
      if (body !== '"all"') this.dropEverything();
      throw error;
    }
    if (exitCode !== 0) {
      if (body !== '"all"') this.dropEverything();
      throw new Error(`the opcache invalidation script exited with ${exitCode}`);
    }
  }

  private dropEverything(): void {
    this.everything = true;
    this.paths.clear();
    this.bytes = 0;
  }
}
