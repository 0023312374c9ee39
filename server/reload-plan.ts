import { isDeepStrictEqual } from 'node:util';
import type { ServerConfig } from './config/types.js';

/**
 * Settings a reload (SIGHUP) applies: everything a PHP worker is started with, or that the pool
 * reads per request. New workers take them over one at a time. Everything else (what the listening
 * sockets, the router and the HTTP layer were built with) needs a restart.
 */
export const RELOADABLE = [
  'ini', 'env', 'allowNetwork', 'connectTo', 'mounts', 'warmup', 'opcacheValidate', 'extraPrepend', 'workers',
  'requestTimeout', 'selfCallWorkers', 'queueLimit', 'queueTimeout', 'maxRequests', 'maxWorkerMemory', 'tmpSize', 'sendTimeout', 'logLevel',
] as const satisfies ReadonlyArray<keyof ServerConfig>;

export interface ReloadPlan {
  /** The configuration to run with: the new reloadable settings, the running values of the rest. */
  config: ServerConfig;
  /** Reloadable settings that changed. */
  applied: string[];
  /** Settings that changed but need a restart (they keep their running value). */
  needRestart: string[];
}

/** `alsoReloadable`: settings of a preset that act through reloadable ones (WordPress's siteUrl → extraPrepend). */
export function planReload(running: ServerConfig, next: ServerConfig, alsoReloadable: readonly string[] = []): ReloadPlan {
  const reloadable = new Set<string>([...RELOADABLE, ...alsoReloadable]);
  const keys = new Set([...Object.keys(running), ...Object.keys(next)]) as Set<keyof ServerConfig>;
  const config = { ...running } as Record<string, unknown>;
  const applied: string[] = [];
  const needRestart: string[] = [];
  for (const key of keys) {
    if (isDeepStrictEqual(running[key], next[key])) continue;
    if (reloadable.has(key)) {
      config[key] = next[key];
      applied.push(key);
    } else {
      needRestart.push(key);
    }
  }
  return { config: config as unknown as ServerConfig, applied: applied.sort(), needRestart: needRestart.sort() };
}
