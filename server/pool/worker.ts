/**
 * A worker thread: one php.wasm instance, one request at a time. It passes PHP's response to the
 * main thread as it is produced (see response-sink.ts: flush() reaches the client, a slow client
 * slows PHP down, a gone one aborts it) and never decides policy: timeouts, recycling and
 * replacement belong to the pool.
 */
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { bootPhp, refreshAfterKeptImage, resetFromImage, wasmMemoryBuffer, wasmMemoryBytes, type ResetOutcome } from './php-instance.js';
import { SplitLockManager } from './split-lock-manager.js';
import { SharedLockTable } from './lock-table/shared-lock-table.js';
import { OutputGate } from './output-flow.js';
import { ResponseSink } from './response-sink.js';
import { opcacheSampler } from './opcache-sample.js';
import { hostFsCallsReporter } from './host-fs-calls-channel.js';
import { ignoreRelayExit } from '../sandbox/relay-exit.js';
import { runDirect } from '../php-wasm/direct-request.js';
import { StaleCode } from './stale-code.js';
import { CodeChangeBatch } from './code-writes.js';
import { loadPageCalls, releaseZeroPages, SLICE_BYTES, type PageCalls, type Released } from './zero-pages.js';
import { throughGate } from './native-call-gate.js';
import { holdsOptimizedCode } from '../wasm-code-cache/optimized-probe.js';
import { IMAGE_PAGE_BYTES, writeWarmImage, type WarmImageRef } from './warm-image.js';
import { runtimeOf } from '../php-wasm/internals.js';
import type { FromWorker, ToWorker, WorkerBoot } from './messages.js';
import type { SelfRoute } from '../sandbox/self-route.js';

const boot = workerData as WorkerBoot;
const port = parentPort!;
const post = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
// Code changes go first: the pool must hear of them before any response, mail or end that follows them.
const send = (message: FromWorker, transfer: ArrayBuffer[] = []) => {
  codeChanges.flush();
  post(message, transfer);
};
const gate = new OutputGate(boot.flowBuffer);
const sampleOpcache = opcacheSampler();
const staleCode = new StaleCode();
const codeChanges = new CodeChangeBatch((paths) => post({ type: 'code-changed', paths }));
const hostFsCalls = boot.hostFsCallsChannel ? hostFsCallsReporter(boot.hostFsCallsChannel, boot.processId) : undefined;

// The network relay in this thread would end the worker on a frame it does not know.
ignoreRelayExit((code) => send({ type: 'notice', message: "php.wasm's network relay tried to end the worker (a frame it does not know); ignored", detail: { code } }));

type Instance = Awaited<ReturnType<typeof bootPhp>>;

async function main(): Promise<void> {
  const started = performance.now();
  let instance: Instance;
  try {
    const sharedLocks = new SharedLockTable(boot.lockTable, boot.processId);
    const lockManager = new SplitLockManager(sharedLocks, [boot.docroot, ...boot.mounts.map((m) => m.host)]);
    instance = await bootPhp({ ...boot, wasmModule: await moduleOf(boot) }, {
      fileLockManager: lockManager,
      onExit: (code) => { exitedWith = code; },
      deliverMail,
      selfRoute: () => selfRoute,
      onCodeWritten: (path) => {
        // This worker too, from its next request on: after the request that changed code, every worker runs the new code.
        staleCode.add([path]);
        codeChanges.note(path);
      },
      beforeSocketSend: () => codeChanges.flush(),
      dropPages,
    });
  } catch (error) {
    send({ type: 'boot-failed', error: String((error as Error)?.stack ?? error) });
    return;
  }
  port.on('message', (message: ToWorker) => {
    if (message.type === 'run') void run(instance, message);
    else if (message.type === 'mail-result') mailAnswers.get(message.mailId)?.(message.sent);
    else if (message.type === 'self-route') selfRoute = message.route;
    else if (message.type === 'invalidate-code') staleCode.add(message.paths);
    else if (message.type === 'release-memory') releaseMemory(instance);
    else if (message.type === 'take-warm-image') post(takeWarmImage(instance, message.path));
    else if (message.type === 'reset-to-image') void resetToImage(instance, message.image).then(post);
    else if (message.type === 'probe-optimized-code') post({ type: 'optimized-code', probeId: message.probeId, optimized: probeOptimizedCode(instance) });
  });
  send({ type: 'ready', bootMs: Math.round(performance.now() - started), memoryBytes: wasmMemoryBytes(instance.php), ...(instance.image ? { image: instance.image } : {}) });
}

/** php.wasm as the pool gave it: at once, or on its port once made (this thread's start-up ran meanwhile). */
async function moduleOf({ wasmModule, modulePort }: WorkerBoot): Promise<WebAssembly.Module> {
  if (wasmModule) return wasmModule;
  if (!modulePort) throw new Error('the pool gave this worker no php.wasm module');
  const made = await new Promise<unknown>((resolve) => modulePort.once('message', resolve));
  modulePort.close();
  if (!(made instanceof WebAssembly.Module)) throw new Error("the main thread could not make php.wasm's module");
  return made;
}

/**
 * Drops compiled copies of code this or another worker changed. If that fails, this request runs with
 * them, the next one empties the whole opcache (see StaleCode), and the operator hears why.
 */
async function dropStaleCode(php: Instance['php']): Promise<void> {
  try {
    await staleCode.invalidateIn(php);
  } catch (error) {
    send({ type: 'notice', message: 'could not drop compiled copies of changed code before a request; the next request empties the whole opcache', detail: { error: String(error) } });
  }
}

/** Requests in this worker now (0 or 1: the pool sends one at a time). */
let running = 0;
/** Loaded on the first release; a string says why there is none. */
let pageCalls: PageCalls | string | undefined;
let releasing = false;

/** The page calls (koffi), loaded on first use; a string says why there are none, undefined: leaving. */
function loadedPageCalls(): PageCalls | string | undefined {
  if (pageCalls === undefined) {
    // koffi calls go through the gate: the pool may be about to terminate this thread (native-call-gate.ts).
    const loaded = throughGate(boot.nativeCallGate, loadPageCalls);
    if (!loaded) return undefined;
    pageCalls = 'unavailable' in loaded ? loaded.unavailable : loaded;
  }
  return pageCalls;
}

/** Drops a view's pages (see warm-image.ts), when the page calls are there and the view is whole system pages. */
function dropPages(view: Uint8Array): boolean {
  const calls = loadedPageCalls();
  if (typeof calls !== 'object' || IMAGE_PAGE_BYTES % calls.pageBytes !== 0) return false;
  return throughGate(boot.nativeCallGate, () => calls.dropPages(view)) === true;
}

/**
 * Scans the memory a slice at a time. Each slice is synchronous on the thread that owns the memory, so
 * nothing writes to it between a page's check and its drop. Between slices the worker reads its
 * messages: a request that arrives ends the scan (what is left waits for the next quiet spell), so it
 * waits one slice at most.
 */
function releaseMemory({ php }: Instance): void {
  const calls = loadedPageCalls();
  if (calls === undefined) return; // leaving
  const started = performance.now();
  const answer = (released: Released, unavailable?: string) =>
    post({ type: 'memory-released', ...released, ms: Math.round(performance.now() - started), ...(unavailable ? { unavailable } : {}) });
  if (typeof calls === 'string') return answer({ bytes: 0, residentBytes: 0 }, calls);
  if (releasing || running > 0) return;
  releasing = true;
  const total: Released = { bytes: 0, residentBytes: 0 };
  let from = 0;
  const step = () => {
    const buffer = wasmMemoryBuffer(php);
    try {
      const released = running === 0 && from < buffer.byteLength ? throughGate(boot.nativeCallGate, () => releaseZeroPages(buffer, calls, from, from + SLICE_BYTES)) : undefined;
      if (released) {
        total.bytes += released.bytes;
        total.residentBytes += released.residentBytes;
        from += SLICE_BYTES;
        if (from < buffer.byteLength) return void setImmediate(step);
      }
      answer(total);
    } catch (error) {
      pageCalls = String(error); // not again: a call that fails once fails every time
      send({ type: 'notice', message: 'a worker could not give back the zero pages of its wasm memory; workers stop trying', detail: { error: pageCalls } });
      answer(total, pageCalls);
    }
    releasing = false;
  };
  step();
}

/** Between requests only: the pool asks before the worker's first one, right after its warm-up. */
function takeWarmImage({ php, wasmExports, bootedBytes }: Instance, path: string): FromWorker {
  // Its opcache still holds code changed since its last request: an image would keep it for good.
  if (staleCode.pending) return { type: 'warm-image', path, error: 'code changed since its last request', retry: true };
  try {
    return { type: 'warm-image', path, meta: writeWarmImage(runtimeOf(php), wasmExports, path, bootedBytes) };
  } catch (error) {
    return { type: 'warm-image', path, error: String(error) };
  }
}

/** Between requests only: the pool sends none while it waits for the answer. */
async function resetToImage({ php, wasmExports, growHeap, jsHoldsPointers }: Instance, image: WarmImageRef): Promise<FromWorker> {
  const started = performance.now();
  let outcome: ResetOutcome = resetFromImage(php, wasmExports, growHeap, image, jsHoldsPointers(), dropPages);
  // The kept image holds the last run's PHP, as it was before this run's first worker refreshed it.
  if (outcome.reset && image.kept) {
    outcome = await refreshAfterKeptImage(php).then(
      (stale): ResetOutcome => ({ reset: true, stale }),
      (error: unknown): ResetOutcome => ({ reset: false, error: `PHP's first request after the reset failed: ${String(error)}`, intact: false, imageAtFault: false }),
    );
  }
  return { type: 'reset', ...outcome, memoryBytes: wasmMemoryBytes(php), ms: Math.round(performance.now() - started) };
}

/** A read of V8's state of this thread's code: safe in the middle of a request too. */
function probeOptimizedCode({ wasmExports }: Instance): boolean | string {
  try {
    return holdsOptimizedCode(wasmExports);
  } catch (error) {
    return String(error);
  }
}

/** Set by the main thread once the server listens (see sandbox/self-route.ts). */
let selfRoute: SelfRoute | undefined;

/** mail() waits for the main thread's relay (see sandbox/sendmail.ts); answers arrive by id. */
const mailAnswers = new Map<number, (sent: boolean) => void>();
let nextMailId = 1;
function deliverMail(args: string[], message: Uint8Array): Promise<boolean> {
  const mailId = nextMailId++;
  return new Promise<boolean>((resolve) => {
    mailAnswers.set(mailId, (sent) => {
      mailAnswers.delete(mailId);
      resolve(sent);
    });
    send({ type: 'mail', mailId, args, message }, [message.buffer as ArrayBuffer]);
  });
}

/** Set when the instance itself called exit() (see bootPhp): it is broken, the pool must replace it. */
let exitedWith: number | undefined;
const instanceExited = () => new Error(`php.wasm instance exited (code ${exitedWith}) during the request`);

async function run({ php, tmp, ceiling, output }: Instance, { id, job, body }: Extract<ToWorker, { type: 'run' }>): Promise<void> {
  const sink = new ResponseSink(id, send, gate);
  running++;
  try {
    if (exitedWith !== undefined) throw instanceExited();
    await dropStaleCode(php); // before the sink is routed: that run's output is its own
    if (exitedWith !== undefined) throw instanceExited();
    ceiling.takeRefused(); // a refusal in that run is not this request's
    output.route(sink);
    // A spooled body is read only now, when the request runs (it waited for a worker on disk).
    const bytes = body && 'path' in body ? readFileSync(body.path) : body;
    hostFsCalls?.begin();
    const exitCode = await runDirect(php, bytes ? { ...job, body: bytes } : job);
    // If the instance died, say so, so the client gets a 5xx instead of a 200 with an empty body.
    if (exitedWith !== undefined) throw instanceExited();
    hostFsCalls?.end(job);
    tmp.endRequest(); // before the end: the next request may be sent as soon as the pool hears it
    const stderr = output.takeErrors();
    output.route(undefined); // the sample's output is its own
    const opcache = await sampleOpcache(php);
    sink.end({ exitCode, errors: stderr, memoryBytes: wasmMemoryBytes(php), ...(opcache ? { opcache } : {}), ...(ceiling.takeRefused() ? { hitMemoryCeiling: true } : {}) });
  } catch (error) {
    send({ type: 'failed', id, error: String((error as Error)?.stack ?? error) });
  } finally {
    output.route(undefined);
    running--;
  }
}

void main();
