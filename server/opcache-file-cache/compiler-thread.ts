/**
 * The compiler: a php.wasm instance of its own, in a thread of its own, that only compiles. It has
 * the workers' php.ini (so the same optimisations and language settings) with the file cache
 * writable and opcache.file_cache_only on, and runs nothing but COMPILE_SCRIPT below: no site code,
 * no prepend file. opcache_compile_file() parses and stores, it never executes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { SandboxSettings } from '../pool/php-instance.js';
import { createSandboxedPhp } from '../pool/php-instance.js';
import { GUEST_DOCROOT } from '../paths.js';
import { GUEST_OPCACHE_FILE_CACHE } from './cache-folder.js';
import { siteScripts } from './site-scripts.js';
import { allCompiled } from './up-to-date.js';

export interface CompilerData {
  settings: SandboxSettings;
  /** The workers' mount points: host files below them under the docroot are not what PHP sees. */
  hiddenGuestPaths: string[];
}

export type CompilerMessage = { type: 'done'; scripts: number; compiled: number; failed: number; upToDate: boolean } | { type: 'failed'; error: string };

/** Files per run: a run's compiled scripts stay in its memory until it ends. */
const BATCH = 100;
const LIST_PATH = '/internal/compile-list.json';
const SCRIPT_PATH = '/internal/compile-into-file-cache.php';

const COMPILE_SCRIPT = `<?php
ini_set('display_errors', '0');
$compiled = 0; $failed = 0;
foreach (json_decode(file_get_contents('${LIST_PATH}'), true) as $file) {
  try { if (@opcache_compile_file($file)) { $compiled++; } else { $failed++; } } catch (Throwable $e) { $failed++; }
}
echo json_encode([$compiled, $failed]);`;

/** Settings the compiler adds to the workers' php.ini (later lines win over theirs and the user's). */
export const COMPILER_INI = [
  `opcache.file_cache = ${GUEST_OPCACHE_FILE_CACHE}`,
  'opcache.file_cache_only = 1',
  // Stale files are recompiled even when the workers never check timestamps.
  'opcache.validate_timestamps = 1',
  'opcache.log_verbosity_level = 1',
  'auto_prepend_file =',
  'auto_append_file =',
].join('\n');

async function main(): Promise<CompilerMessage> {
  const { settings, hiddenGuestPaths } = workerData as CompilerData;
  const scripts = siteScripts(settings.docroot, GUEST_DOCROOT, hiddenGuestPaths);
  // Booting php.wasm costs CPU, and its freed memory stays in the process for a while (measured: +44 MB).
  if (allCompiled(settings.mounts[0]!.host, settings.docroot, GUEST_DOCROOT, scripts)) return { type: 'done', scripts: scripts.length, compiled: 0, failed: 0, upToDate: true };
  const { php } = await createSandboxedPhp({ ...settings, phpIni: `${settings.phpIni}\n${COMPILER_INI}\n` });
  await php.setSapiName('cgi-fcgi');
  php.writeFile(SCRIPT_PATH, COMPILE_SCRIPT);
  /** [compiled, failed] for `files`; a run that fails outright (a fatal error while compiling one file ends it) throws. */
  const compile = async (files: string[]): Promise<[number, number]> => {
    php.writeFile(LIST_PATH, JSON.stringify(files));
    const response = await php.run({ scriptPath: SCRIPT_PATH });
    return JSON.parse(response.text) as [number, number];
  };
  let compiled = 0;
  let failed = 0;
  for (let i = 0; i < scripts.length; i += BATCH) {
    const batch = scripts.slice(i, i + BATCH);
    try {
      const [ok, bad] = await compile(batch);
      compiled += ok;
      failed += bad;
    } catch {
      // One file stopped the run (a compile-time fatal error, its memory limit): each on its own.
      for (const file of batch) {
        try {
          const [ok, bad] = await compile([file]);
          compiled += ok;
          failed += bad;
        } catch {
          failed++;
        }
      }
    }
  }
  return { type: 'done', scripts: scripts.length, compiled, failed, upToDate: false };
}

main().then(
  (message) => parentPort!.postMessage(message),
  (error: unknown) => parentPort!.postMessage({ type: 'failed', error: String((error as Error)?.stack ?? error) } satisfies CompilerMessage),
);
