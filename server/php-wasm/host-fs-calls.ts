/**
 * Counts the host file-system calls of this thread (issue #12: the work per page). php.wasm's
 * NODEFS reaches the host through Node's `fs` module object (Emscripten's `require('fs')`, looked up
 * at each call), and the sandbox patches import functions from `node:fs`: wrapping the module's
 * synchronous functions, then re-syncing the ESM bindings, sees both. Installed only when asked
 * for (a debug switch), so a server that does not count pays nothing.
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

/** Calls by kind: the fs function without "Sync" (lstat, open, read, fstat, readdir, …). */
export type HostFsCalls = Record<string, number>;

export interface HostFsCounter {
  /** The calls since the last take, and a fresh count from here on. */
  take(): HostFsCalls;
}

let installed: HostFsCounter | undefined;

export function countHostFsCalls(): HostFsCounter {
  if (installed) return installed;
  let counts: HostFsCalls = {};
  // Only the outermost call counts: writeFileSync calling openSync/writeSync/closeSync is one call.
  let depth = 0;
  const table = fs as unknown as Record<string, unknown>;
  for (const name of Object.keys(table)) {
    const original = table[name];
    if (!name.endsWith('Sync') || typeof original !== 'function') continue;
    const kind = name.slice(0, -'Sync'.length);
    table[name] = function countedFsCall(this: unknown, ...args: unknown[]) {
      if (depth === 0) counts[kind] = (counts[kind] ?? 0) + 1;
      depth++;
      try {
        return (original as (...a: unknown[]) => unknown).apply(this, args);
      } finally {
        depth--;
      }
    };
  }
  syncBuiltinESMExports();
  installed = {
    take() {
      const taken = counts;
      counts = {};
      return taken;
    },
  };
  return installed;
}

export function totalCalls(calls: HostFsCalls): number {
  return Object.values(calls).reduce((sum, n) => sum + n, 0);
}
