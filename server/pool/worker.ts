/**
 * A worker thread: one php.wasm instance, one request at a time. It streams PHP's response back
 * to the main thread as it is produced (so flush() reaches the client) and never decides policy:
 * timeouts, recycling and replacement belong to the pool.
 */
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { consumeAPISync, type FileLockManager, type PHP } from '@php-wasm/universal';
import { bootPhp, wasmMemoryBytes } from './php-instance.js';
import type { TmpArea } from '../sandbox/tmp-area.js';
import type { MemoryCeiling } from '../sandbox/memory-ceiling.js';
import { SplitLockManager } from './split-lock-manager.js';
import { readPhpHead } from './php-head.js';
import type { FromWorker, RunEnd, ToWorker, WorkerBoot } from './messages.js';

const boot = workerData as WorkerBoot;
const port = parentPort!;
const send = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

async function main(): Promise<void> {
  const started = performance.now();
  let php: PHP;
  let tmp: TmpArea;
  let ceiling: MemoryCeiling;
  try {
    const sharedLocks = await consumeAPISync<FileLockManager>(boot.lockPort);
    const lockManager = new SplitLockManager(sharedLocks, [boot.docroot, ...boot.mounts.map((m) => m.host)]);
    ({ php, tmp, ceiling } = await bootPhp(boot, lockManager, (code) => { exitedWith = code; }));
  } catch (error) {
    send({ type: 'boot-failed', error: String((error as Error)?.stack ?? error) });
    return;
  }
  port.on('message', (message: ToWorker) => {
    if (message.type === 'run') void run(php, tmp, ceiling, message);
  });
  send({ type: 'ready', bootMs: Math.round(performance.now() - started), memoryBytes: wasmMemoryBytes(php) });
}

/** Set when the instance itself called exit() (see bootPhp): it is broken, the pool must replace it. */
let exitedWith: number | undefined;
const instanceExited = () => new Error(`php.wasm instance exited (code ${exitedWith}) during the request`);

async function run(php: PHP, tmp: TmpArea, ceiling: MemoryCeiling, { id, job, body }: Extract<ToWorker, { type: 'run' }>): Promise<void> {
  try {
    if (exitedWith !== undefined) throw instanceExited();
    // A spooled body is read only now, when the request runs (it waited for a worker on disk).
    const bytes = body && 'path' in body ? readFileSync(body.path) : body;
    const response = await php.runStream({
      scriptPath: job.scriptPath,
      relativeUri: job.relativeUri,
      method: job.method as never,
      protocol: job.protocol,
      headers: job.headers,
      $_SERVER: job.server,
      ...(bytes ? { body: bytes } : {}),
    });
    const errors = response.stderrText; // drain stderr concurrently, or PHP can stall on a full pipe
    // Not response.headers: universal's parser crashes on a header named __proto__ (see php-head.ts).
    const { status, headers } = await readPhpHead(response.getHeadersStream());
    // Headers of a script that produced no output resolve only when it ends: if the instance died,
    // say so now, so the client gets a 5xx instead of a 200 with an empty body.
    if (exitedWith !== undefined) throw instanceExited();
    await streamBody(id, status, headers, response.stdout.getReader(), async () => {
      const exitCode = await response.exitCode;
      if (exitedWith !== undefined) throw instanceExited();
      tmp.endRequest(); // before 'end': the next request may be sent as soon as the pool hears it
      return { exitCode, errors: await errors, memoryBytes: wasmMemoryBytes(php), ...(ceiling.takeRefused() ? { hitMemoryCeiling: true } : {}) };
    });
  } catch (error) {
    send({ type: 'failed', id, error: String((error as Error)?.stack ?? error) });
  }
}

const NOT_YET = Symbol('not yet');

/**
 * Sends the response in as few messages as it can without delaying output: a chunk is held only
 * while the next one is already available, so a small page goes out as one message (head, body
 * and end together) while a script that flush()es and waits still reaches the client at once.
 */
async function streamBody(
  id: number,
  status: number,
  headers: Record<string, string[]>,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  finish: () => Promise<RunEnd>,
): Promise<void> {
  let headSent = false;
  let held: Uint8Array | undefined;
  const sendHeld = () => {
    const transfer = transferList(held);
    send(headSent ? { type: 'chunk', id, data: held! } : { type: 'head', id, status, headers, data: held }, transfer);
    headSent = true;
    held = undefined;
  };
  for (;;) {
    const next = reader.read();
    let result = await Promise.race([next, new Promise<typeof NOT_YET>((resolve) => setImmediate(() => resolve(NOT_YET)))]);
    if (result === NOT_YET) {
      if (held || !headSent) sendHeld(); // PHP is waiting on something: let the client have what there is
      result = await next;
    }
    if (result.done) break;
    if (held) sendHeld();
    held = own(result.value);
  }
  const end = await finish();
  const transfer = transferList(held);
  send(headSent ? { type: 'end', id, data: held, ...end } : { type: 'head', id, status, headers, data: held, end }, transfer);
}

/** Moving a buffer costs more than copying a small one: only large chunks are transferred. */
const TRANSFER_FROM_BYTES = 64 * 1024;
function transferList(chunk: Uint8Array | undefined): ArrayBuffer[] {
  return chunk && chunk.byteLength >= TRANSFER_FROM_BYTES ? [chunk.buffer as ArrayBuffer] : [];
}

/** Own the bytes before transferring them: the stream may hand out views of a shared buffer. */
function own(value: Uint8Array): Uint8Array {
  return value.byteOffset === 0 && value.byteLength === value.buffer.byteLength ? value : value.slice();
}

void main();
