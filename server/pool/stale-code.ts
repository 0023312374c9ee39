import type { PHP } from '@php-wasm/universal';

/** Placed in the guest at boot (server.ts), as opcache-status.php is: /internal is read-only afterwards. */
export const INVALIDATE_CODE_PATH = '/internal/shared/opcache-invalidate.php';

/**
 * Drops this instance's compiled copy of the changed files and of every file under a changed folder
 * (the request body: a JSON list of guest paths, or "all"). force: the file may have been rewritten
 * within the second its copy was compiled, and opcache compares whole-second modification times.
 */
export const INVALIDATE_CODE_SCRIPT = `<?php
if (!function_exists('opcache_get_status')) return;
$changed = json_decode(file_get_contents('php://input'), true);
if ($changed === 'all') { opcache_reset(); return; }
$changed = array_flip($changed);
$status = opcache_get_status(true);
foreach (array_keys($status['scripts'] ?? []) as $script) {
  for ($path = $script; $path !== '/' && $path !== '.'; $path = dirname($path)) {
    if (isset($changed[$path])) { opcache_invalidate($script, true); break; }
  }
}`;

/** Past this many paths the worker empties its whole opcache instead (opcache holds 10,000 scripts by default). */
export const MAX_STALE_PATHS = 10_000;

/**
 * What other workers changed since this worker's last request: code files PHP wrote there (see
 * code-writes.ts). Each php.wasm instance has its own opcache, which rechecks a file's time only
 * every opcache.revalidate_freq seconds, and then at whole-second precision; under php-fpm one
 * shared opcache hears WordPress's opcache_invalidate() for every child. Without this, the theme
 * editor's fatal-error check (a loopback request, run by another worker) ran the code from before
 * the edit, and a fatal edit was saved.
 */
export class StaleCode {
  private readonly paths = new Set<string>();
  private everything = false;

  add(paths: string[]): void {
    if (this.everything) return;
    for (const path of paths) this.paths.add(path);
    if (this.paths.size > MAX_STALE_PATHS) {
      this.everything = true;
      this.paths.clear();
    }
  }

  /** What the next invalidation run gets as its body; undefined: nothing changed. */
  take(): string | undefined {
    if (!this.everything && this.paths.size === 0) return undefined;
    const body = JSON.stringify(this.everything ? 'all' : [...this.paths]);
    this.everything = false;
    this.paths.clear();
    return body;
  }

  /** Before a request: drops the compiled copies of what changed (a PHP run of its own, ~1 ms). */
  async invalidateIn(php: PHP): Promise<void> {
    const body = this.take();
    if (body !== undefined) await php.run({ scriptPath: INVALIDATE_CODE_PATH, method: 'POST', body: new TextEncoder().encode(body) });
  }
}
