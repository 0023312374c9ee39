import type { PHP } from '@php-wasm/universal';

/** What metrics show of a worker's opcache. */
export interface OpcacheSample {
  usedBytes: number;
  freeBytes: number;
  cachedScripts: number;
  hits: number;
  misses: number;
}

/** How often a worker reads its opcache status (a tiny PHP run of its own, ~1 ms). */
const SAMPLE_EVERY_MS = 15_000;

/** Placed in the guest at boot (server.ts): /internal is read-only afterwards, so php.run({ code }) cannot write its own file. */
export const OPCACHE_STATUS_PATH = '/internal/shared/opcache-status.php';

export const OPCACHE_STATUS_SCRIPT = `<?php
$s = function_exists('opcache_get_status') ? opcache_get_status(false) : false;
echo json_encode($s ? [$s['memory_usage']['used_memory'], $s['memory_usage']['free_memory'], $s['opcache_statistics']['num_cached_scripts'], $s['opcache_statistics']['hits'], $s['opcache_statistics']['misses']] : null);`;

/**
 * Reads opcache's status at most every 15 s, between two requests of the worker (php.wasm runs one
 * script at a time, so it cannot be asked while a request runs). Only PHP itself can tell: the
 * status lives in the instance's own memory.
 */
export function opcacheSampler(now: () => number = Date.now): (php: PHP) => Promise<OpcacheSample | undefined> {
  let last = -Infinity;
  return async (php) => {
    if (now() - last < SAMPLE_EVERY_MS) return undefined;
    last = now();
    try {
      const values = JSON.parse((await php.run({ scriptPath: OPCACHE_STATUS_PATH })).text) as number[] | null;
      if (!values) return undefined;
      const [usedBytes, freeBytes, cachedScripts, hits, misses] = values as [number, number, number, number, number];
      return { usedBytes, freeBytes, cachedScripts, hits, misses };
    } catch {
      return undefined; // metrics are best effort; the request itself is done
    }
  };
}
