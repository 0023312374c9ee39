/**
 * The thread that makes the process's php.wasm module while the main thread starts the server (see
 * preloadPhpModule): it posts the module (V8 shares it, code and all) and ends.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { PhpVersion } from '../config/types.js';
import { loadPhpModule, type CodeCacheLocation } from './wasm-module.js';

const { version, codeCache } = workerData as { version: PhpVersion; codeCache?: CodeCacheLocation };
loadPhpModule(version, codeCache).then(
  (loaded) => parentPort!.postMessage(loaded),
  (error: unknown) => parentPort!.postMessage({ error: String((error as Error)?.stack ?? error) }),
);
