import { createNodeFsMountHandler, loadNodeRuntime } from '@php-wasm/node';
import { PHP, type FileLockManager } from '@php-wasm/universal';
import { missingImports, missingInternals, runtimeOf, UnsupportedPhpWasmError } from '../php-wasm/internals.js';
import { GUEST_DOCROOT } from '../paths.js';
import type { WorkerBoot } from './messages.js';
import { connectErrorsAsErrno, guardNetwork } from '../sandbox/network.js';
import { mountReadOnly } from '../sandbox/read-only-mount.js';
import { refuseSubprocesses } from '../sandbox/no-subprocesses.js';
import { spawnHandlerWithMail, type DeliverMail } from '../sandbox/sendmail.js';
import { refuseHostSymlinks } from '../sandbox/no-host-symlinks.js';
import { freshHostLookups } from '../sandbox/fresh-host-lookups.js';
import { createWithoutTruncating } from '../sandbox/create-without-truncating.js';
import { enforceHostFileModes } from '../sandbox/host-file-modes.js';
import { readOnlyInternals } from '../sandbox/read-only-internals.js';
import { limitTmp, type TmpArea } from '../sandbox/tmp-area.js';
import { memoryCeiling, type MemoryCeiling } from '../sandbox/memory-ceiling.js';
import { capturePhpOutput, type PhpOutput } from './php-output.js';
import { refuseSqliteWal } from '../sandbox/no-sqlite-wal.js';
import { walHeaderAsRollback } from '../sandbox/wal-header-as-rollback.js';

/** What Emscripten puts in a fresh environment; '_' even carries the host path of the node script. */
const EMSCRIPTEN_DEFAULT_ENV = ['USER', 'LOGNAME', 'PATH', 'PWD', 'HOME', 'LANG', '_'];

/** CGI-family SAPI name: opcache only starts under SAPIs it knows, and scripts see an honest PHP_SAPI. */
const SAPI_NAME = 'cgi-fcgi';

const PHP_INI_PATH = '/internal/shared/php.ini';
const GUEST_TMP = '/tmp';

/**
 * Boots one sandboxed php.wasm instance: mounts, environment, network and php.ini set before any request.
 * `onExit` hears of a C-level exit() inside the instance (e.g. PHP's "Out of memory" when wasm memory
 * runs out): runStream reports it as an ordinary exit code, yet the request never shut down and the
 * instance is left half-way (its next response comes back empty), so the caller must discard it.
 * `deliverMail` receives what mail() writes to sendmail; without it, mail() is refused like any process.
 */
export async function bootPhp(
  boot: WorkerBoot,
  fileLockManager: FileLockManager,
  onExit: (code: number) => void = () => {},
  deliverMail?: DeliverMail,
): Promise<{ php: PHP; tmp: TmpArea; ceiling: MemoryCeiling; output: PhpOutput }> {
  const ceiling = memoryCeiling();
  const runtimeId = await loadNodeRuntime(boot.phpVersion, {
    fileLockManager,
    emscriptenOptions: {
      processId: boot.processId,
      // Replaces php-wasm's own quit (which only rethrows); Emscripten calls it for a C exit() only,
      // never for PHP's exit() or fatal errors.
      quit(code: number, error: unknown) {
        onExit(code);
        throw error;
      },
      // Emscripten fills a default environment (USER, HOME, and '_' with the host's node path);
      // undefined entries remove them. What remains besides the configured variables is php.wasm's
      // own: PATH=/internal/shared/bin and USE_ZEND_ALLOC=0.
      ENV: { ...Object.fromEntries(EMSCRIPTEN_DEFAULT_ENV.map((name) => [name, undefined])), ...boot.env },
      // Instantiate the module compiled once in the main thread instead of compiling 23 MB per worker.
      instantiateWasm(imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void) {
        const missing = missingImports(imports);
        if (missing.length) throw new UnsupportedPhpWasmError(missing);
        WebAssembly.instantiate(boot.wasmModule, connectErrorsAsErrno(ceiling.gate(imports))).then((instance) => receive(instance, boot.wasmModule));
        return {};
      },
    } as Record<string, unknown>,
  });
  const php = new PHP(runtimeId);
  const runtime = runtimeOf(php);
  const missing = missingInternals(runtime);
  if (missing.length) throw new UnsupportedPhpWasmError(missing);

  guardNetwork(runtime, boot.allowNetwork);

  await php.setSpawnHandler(deliverMail ? spawnHandlerWithMail(deliverMail) : refuseSubprocesses);
  refuseHostSymlinks(runtime);
  freshHostLookups(runtime);
  // Before enforceHostFileModes, whose mknod wrapper masks the mode and then calls this one.
  createWithoutTruncating(runtime);
  enforceHostFileModes(runtime, process.umask());
  refuseSqliteWal(runtime);
  walHeaderAsRollback(runtime);
  await php.mount(GUEST_DOCROOT, createNodeFsMountHandler(boot.docroot));
  for (const mount of boot.mounts) {
    php.mkdir(mount.guest);
    if (mount.readOnly) mountReadOnly(runtime, mount.host, mount.guest);
    else await php.mount(mount.guest, createNodeFsMountHandler(mount.host));
  }
  php.mkdir(GUEST_TMP);
  php.chdir(GUEST_DOCROOT);
  await php.setSapiName(SAPI_NAME);
  php.writeFile(PHP_INI_PATH, boot.phpIni);
  for (const [path, text] of Object.entries(boot.files)) php.writeFile(path, text);
  // PHP starts up (reads php.ini, initialises its modules) on an instance's first request, which
  // costs ~0.2 s: pay it here, so neither the first visitor nor the one after a recycle waits for it.
  await php.run({ code: '<?php ' });
  readOnlyInternals(runtime);
  // Measured from the booted size, which holds opcache's shared memory and PHP's own start-up state.
  if (boot.memoryCeiling !== null) ceiling.set(runtime.HEAPU8.byteLength + boot.memoryCeiling);
  return { php, tmp: limitTmp(runtime, GUEST_TMP, boot.tmpSize), ceiling, output: capturePhpOutput(runtime) };
}

/** Bytes of wasm linear memory the instance holds now (it only ever grows, until the worker ends). */
export function wasmMemoryBytes(php: PHP): number {
  return runtimeOf(php).HEAPU8.byteLength;
}
