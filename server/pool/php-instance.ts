import { createNodeFsMountHandler, loadNodeRuntime } from '@php-wasm/node';
import { PHP, type FileLockManager } from '@php-wasm/universal';
import { missingImports, missingInternals, runtimeOf, UnsupportedPhpWasmError, type Runtime } from '../php-wasm/internals.js';
import { GUEST_DOCROOT } from '../paths.js';
import type { WorkerBoot } from './messages.js';
import { connectErrorsAsErrno, guardNetwork } from '../sandbox/network.js';
import { fiberStartAsFatalError } from '../sandbox/fiber-start-fatal.js';
import { mountReadOnly } from '../sandbox/read-only-mount.js';
import { refuseSubprocesses } from '../sandbox/no-subprocesses.js';
import { spawnHandlerWithMail, type DeliverMail } from '../sandbox/sendmail.js';
import { refuseHostSymlinks } from '../sandbox/no-host-symlinks.js';
import { freshHostLookups } from '../sandbox/fresh-host-lookups.js';
import { fastLookupPath } from '../php-wasm/fast-lookup-path.js';
import { quietMissingLookups } from '../php-wasm/quiet-missing-lookups.js';
import { createWithoutTruncating } from '../sandbox/create-without-truncating.js';
import { enforceHostFileModes } from '../sandbox/host-file-modes.js';
import { readOnlyInternals } from '../sandbox/read-only-internals.js';
import { limitTmp, type TmpArea } from '../sandbox/tmp-area.js';
import { memoryCeiling, type MemoryCeiling } from '../sandbox/memory-ceiling.js';
import { capturePhpOutput, type PhpOutput } from './php-output.js';
import { refuseSqliteWal } from '../sandbox/no-sqlite-wal.js';
import { sharedFlockOnReadOnly } from '../sandbox/shared-flock-on-read-only.js';
import { walHeaderAsRollback } from '../sandbox/wal-header-as-rollback.js';
import type { SelfRoute } from '../sandbox/self-route.js';
import { beforeSocketSends, reportCodeWrites } from './code-writes.js';
import { trackJsHeldPointers } from './js-held-pointers.js';
import { KEPT_IMAGE_REFRESH_PATH, KEPT_IMAGE_REFRESH_SCRIPT, parseStaleness, type KeptImageStaleness } from './kept-image-refresh.js';
import { ImageFault, imageBytes, imageFileMatches, refusalOf, resetToWarmImage, restoreWarmImage, type DropPages, type WarmImageRef } from './warm-image.js';
import { closeSync, openSync } from 'node:fs';

/** What Emscripten puts in a fresh environment; '_' even carries the host path of the node script. */
const EMSCRIPTEN_DEFAULT_ENV = ['USER', 'LOGNAME', 'PATH', 'PWD', 'HOME', 'LANG', '_'];

/** CGI-family SAPI name: opcache only starts under SAPIs it knows, and scripts see an honest PHP_SAPI. */
const SAPI_NAME = 'cgi-fcgi';

const PHP_INI_PATH = '/internal/shared/php.ini';
const GUEST_TMP = '/tmp';

/** What a sandboxed instance is made of: everything in WorkerBoot but the pool's own channels. */
export type SandboxSettings = Omit<WorkerBoot, 'lockTable' | 'flowBuffer' | 'nativeCallGate' | 'tmpSize' | 'wasmModule' | 'modulePort'> & { wasmModule: WebAssembly.Module };

export interface SandboxHooks {
  /** Locks shared with the other workers; absent: the host's own file locks only (one instance per process). */
  fileLockManager?: FileLockManager;
  /** A C-level exit() inside the instance (see bootPhp). */
  onExit?: (code: number) => void;
  /** Receives what mail() writes to sendmail; without it, mail() is refused like any process. */
  deliverMail?: DeliverMail;
  /** Where a connection to the server itself goes (see self-route.ts); read at each connect. */
  selfRoute?: () => SelfRoute | undefined;
  /** Runs before PHP sends on a socket (see code-writes.ts). */
  beforeSocketSend?: () => void;
}

/**
 * One php.wasm instance inside the sandbox: mounts, environment, network, file-system guards and
 * php.ini, set before it runs anything. Shared by the server's workers (bootPhp) and the `php`
 * command; what either runs afterwards is theirs.
 */
export async function createSandboxedPhp(settings: SandboxSettings, hooks: SandboxHooks = {}): Promise<{ php: PHP; ceiling: MemoryCeiling; wasmExports: WebAssembly.Exports; growHeap: GrowHeap; jsHoldsPointers: () => boolean }> {
  const ceiling = memoryCeiling();
  let jsHoldsPointers = () => false;
  let wasmExports: WebAssembly.Exports = {};
  let growHeap: GrowHeap = () => 0;
  const runtimeId = await loadNodeRuntime(settings.phpVersion, {
    ...(hooks.fileLockManager ? { fileLockManager: hooks.fileLockManager } : {}),
    emscriptenOptions: {
      processId: settings.processId,
      // Replaces php-wasm's own quit (which only rethrows); Emscripten calls it for a C exit() only,
      // never for PHP's exit() or fatal errors.
      quit(code: number, error: unknown) {
        hooks.onExit?.(code);
        throw error;
      },
      // Emscripten fills a default environment (USER, HOME, and '_' with the host's node path);
      // undefined entries remove them. What remains besides the configured variables is php.wasm's
      // own: PATH=/internal/shared/bin and USE_ZEND_ALLOC=0. That one is put at each request's start,
      // after startup chose Zend's allocator (test/allocator.test.ts); only a USE_ZEND_ALLOC=0 here,
      // in ENV, would switch PHP to libc malloc.
      ENV: { ...Object.fromEntries(EMSCRIPTEN_DEFAULT_ENV.map((name) => [name, undefined])), ...settings.env },
      // Instantiate the module compiled once in the main thread instead of compiling 23 MB per worker.
      instantiateWasm(imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void) {
        const missing = missingImports(imports);
        if (missing.length) throw new UnsupportedPhpWasmError(missing);
        growHeap = (imports.env as Record<string, GrowHeap>).emscripten_resize_heap;
        const gated = connectErrorsAsErrno(ceiling.gate(imports));
        const withHook = hooks.beforeSocketSend ? beforeSocketSends(gated, hooks.beforeSocketSend) : gated;
        const tracked = trackJsHeldPointers(fiberStartAsFatalError(withHook, () => wasmExports));
        jsHoldsPointers = tracked.held;
        WebAssembly.instantiate(settings.wasmModule, tracked.imports).then((instance) => {
          wasmExports = instance.exports;
          receive(instance, settings.wasmModule);
        });
        return {};
      },
    } as Record<string, unknown>,
  });
  const php = new PHP(runtimeId);
  const runtime = runtimeOf(php);
  const missing = missingInternals(runtime);
  if (missing.length) throw new UnsupportedPhpWasmError(missing);

  guardNetwork(runtime, settings.allowNetwork, hooks.selfRoute, settings.connectTo);

  await php.setSpawnHandler(hooks.deliverMail ? spawnHandlerWithMail(hooks.deliverMail) : refuseSubprocesses);
  // First: freshHostLookups (below) wraps FS.lookupPath as it finds it.
  fastLookupPath(runtime);
  quietMissingLookups(runtime);
  refuseHostSymlinks(runtime);
  freshHostLookups(runtime);
  // Before enforceHostFileModes, whose mknod wrapper masks the mode and then calls this one.
  createWithoutTruncating(runtime);
  enforceHostFileModes(runtime, process.umask());
  refuseSqliteWal(runtime);
  sharedFlockOnReadOnly(runtime);
  walHeaderAsRollback(runtime);
  await php.mount(GUEST_DOCROOT, createNodeFsMountHandler(settings.docroot));
  for (const mount of settings.mounts) {
    php.mkdir(mount.guest);
    if (mount.readOnly) mountReadOnly(runtime, mount.host, mount.guest);
    else await php.mount(mount.guest, createNodeFsMountHandler(mount.host));
  }
  php.mkdir(GUEST_TMP);
  php.chdir(GUEST_DOCROOT);
  php.writeFile(PHP_INI_PATH, settings.phpIni);
  for (const [path, text] of Object.entries(settings.files)) php.writeFile(path, text);
  return { php, ceiling, wasmExports, growHeap, jsHoldsPointers };
}

/** Emscripten's emscripten_resize_heap: grows wasm memory to at least `bytes` and renews its views; 0 if it cannot. */
type GrowHeap = (bytes: number) => number;

/**
 * Boots one server worker's instance: the sandbox, the CGI SAPI name, code writes reported (the
 * other workers' opcache must hear of them), PHP started up, /internal read-only, the memory ceiling
 * and /tmp quota armed. `onExit` hears of a C-level exit() inside the instance (e.g. PHP's "Out of
 * memory" when wasm memory runs out): runStream reports it as an
 * ordinary exit code, yet the request never shut down and the instance is left half-way (its next
 * response comes back empty), so the caller must discard it.
 *
 * With `boot.warmImage`, PHP's start-up is replaced by a warm worker's memory (see warm-image.ts),
 * unless the image does not fit this instance: `image` says which happened.
 */
export async function bootPhp(
  boot: WorkerBoot & { wasmModule: WebAssembly.Module },
  hooks: SandboxHooks & { fileLockManager: FileLockManager; onCodeWritten?: (guestPath: string) => void; dropPages?: DropPages },
): Promise<{ php: PHP; tmp: TmpArea; ceiling: MemoryCeiling; output: PhpOutput; wasmExports: WebAssembly.Exports; growHeap: GrowHeap; jsHoldsPointers: () => boolean; bootedBytes: number; image?: ImageOutcome }> {
  const { php, ceiling, wasmExports, growHeap, jsHoldsPointers } = await createSandboxedPhp(boot, hooks);
  const runtime = runtimeOf(php);
  if (hooks.onCodeWritten) reportCodeWrites(runtime, hooks.onCodeWritten);
  await php.setSapiName(SAPI_NAME);
  // Every worker: one that booted on its own may be reset to a kept image later.
  php.writeFile(KEPT_IMAGE_REFRESH_PATH, KEPT_IMAGE_REFRESH_SCRIPT);
  // PHP starts up (reads php.ini, initialises its modules) on an instance's first request, which
  // costs ~0.2 s: pay it here, so neither the first visitor nor the one after a recycle waits for it.
  const image = boot.warmImage ? await startFromImage(php, wasmExports, growHeap, boot.warmImage, hooks.dropPages) : undefined;
  if (!image?.restored) await php.run({ code: '<?php ' });
  readOnlyInternals(runtime);
  // Measured from the booted size, which holds opcache's shared memory and PHP's own start-up state.
  const bootedBytes = image?.restored ? boot.warmImage!.meta.bootedBytes : runtime.HEAPU8.byteLength;
  if (boot.memoryCeiling !== null) ceiling.set(bootedBytes + boot.memoryCeiling);
  return { php, tmp: limitTmp(runtime, GUEST_TMP, boot.tmpSize), ceiling, output: capturePhpOutput(runtime), wasmExports, growHeap, jsHoldsPointers, bootedBytes, ...(image ? { image } : {}) };
}

/** Whether a worker started from its image, or why not. `stale`: what a kept image's refresh found out of date (see kept-image-refresh.ts). */
export type ImageOutcome = { restored: true; stale?: KeptImageStaleness } | { restored: false; refused: string; /** the next image would not fit either */ lasting: boolean };

/**
 * Runs the boot's first request with php_wasm_init (PHP's start-up, which runStream calls through
 * ccall once per instance) answered by the image's memory. A refused image leaves everything as it
 * was: the caller then boots as usual.
 */
async function startFromImage(php: PHP, exports: WebAssembly.Exports, growHeap: GrowHeap, image: WarmImageRef, dropPages?: DropPages): Promise<ImageOutcome> {
  const runtime = runtimeOf(php);
  const refused = refusalOf(runtime, exports, image.meta);
  if (refused) return { restored: false, refused, lasting: true };
  let fd: number;
  try {
    fd = openSync(image.path, 'r');
  } catch (error) {
    return { restored: false, refused: `its file cannot be opened (${(error as NodeJS.ErrnoException).code}; a newer image may have replaced it)`, lasting: false };
  }
  // A file from an earlier run: checked whole before a page of it is restored.
  if (image.kept && !(image.sha256 && imageFileMatches(fd, imageBytes(image.meta), image.sha256))) {
    closeSync(fd);
    return { restored: false, refused: 'its file does not match its hash', lasting: true };
  }
  const ccall = runtime.ccall;
  let restored = false;
  runtime.ccall = function (this: Runtime, name, ...rest) {
    if (name !== 'php_wasm_init') return ccall.call(this, name, ...rest);
    restoreWarmImage(runtime, exports, growHeap, image.meta, fd, dropPages);
    restored = true;
    return undefined;
  };
  let stale: KeptImageStaleness | undefined;
  try {
    // A first request on the restored state, as a usual boot runs one; after a kept image, it makes PHP see what changed since.
    if (image.kept) stale = await refreshAfterKeptImage(php);
    else await php.run({ code: '<?php ' });
  } finally {
    runtime.ccall = ccall;
    closeSync(fd);
  }
  if (!restored) throw new Error('php.wasm did not start PHP up through php_wasm_init: the image was not taken over');
  return stale ? { restored: true, stale } : { restored: true };
}

/**
 * Makes PHP restored from a kept image (one of an earlier run) see what changed since it was
 * taken (see kept-image-refresh.ts): after a boot from it, and after every reset to it.
 */
export async function refreshAfterKeptImage(php: PHP): Promise<KeptImageStaleness> {
  const { exitCode, errors, text } = await php.run({ scriptPath: KEPT_IMAGE_REFRESH_PATH });
  if (exitCode !== 0) throw new Error(`the refresh after a kept image exited with ${exitCode}: ${errors}`);
  return parseStaleness(text);
}

/**
 * Whether a worker was reset to the image. Not: `intact`, it is as it was (it may serve on); else it
 * must go, and `imageAtFault` says whether the image is the likely cause (see ImageFault).
 */
export type ResetOutcome = { reset: true; stale?: KeptImageStaleness } | { reset: false; error: string; intact: boolean; imageAtFault: boolean };

/**
 * Recycles a worker in place (see warm-image.ts, resetToWarmImage): between requests, its PHP becomes
 * the image again. The next request starts on that state as it would in a worker started from it.
 * `jsHoldsPointers`: JavaScript keeps addresses into this memory (see js-held-pointers.ts), which the
 * image's contents would not match: refused.
 */
export function resetFromImage(php: PHP, exports: WebAssembly.Exports, growHeap: GrowHeap, image: WarmImageRef, jsHoldsPointers: boolean, dropPages?: DropPages): ResetOutcome {
  if (jsHoldsPointers) return { reset: false, error: "PHP used a C library call whose results JavaScript keeps in wasm memory (getprotobyname)", intact: true, imageAtFault: false };
  let fd: number;
  try {
    fd = openSync(image.path, 'r');
  } catch (error) {
    return { reset: false, error: `its file cannot be opened (${(error as NodeJS.ErrnoException).code})`, intact: true, imageAtFault: false };
  }
  try {
    const refused = resetToWarmImage(runtimeOf(php), exports, growHeap, image.meta, fd, dropPages);
    return refused ? { reset: false, error: refused, intact: true, imageAtFault: false } : { reset: true };
  } catch (error) {
    return { reset: false, error: String(error), intact: false, imageAtFault: error instanceof ImageFault };
  } finally {
    closeSync(fd);
  }
}

/** The instance's wasm linear memory now (growth replaces the buffer: take it afresh each time). */
export function wasmMemoryBuffer(php: PHP): ArrayBuffer {
  return runtimeOf(php).HEAPU8.buffer as ArrayBuffer;
}

/** Bytes of wasm linear memory the instance holds now (it only ever grows, until the worker ends). */
export function wasmMemoryBytes(php: PHP): number {
  return runtimeOf(php).HEAPU8.byteLength;
}
