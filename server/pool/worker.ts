/**
 * A worker thread: one php.wasm instance, one request at a time. It streams PHP's response back
 * to the main thread as it is produced (so flush() reaches the client) and never decides policy:
 * timeouts, recycling and replacement belong to the pool.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { consumeAPISync, type FileLockManager, type PHP } from '@php-wasm/universal';
import { bootPhp } from './php-instance.js';
import type { FromWorker, ToWorker, WorkerBoot } from './messages.js';

const boot = workerData as WorkerBoot;
const port = parentPort!;
const send = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

async function main(): Promise<void> {
  const started = performance.now();
  let php: PHP;
  try {
    const lockManager = await consumeAPISync<FileLockManager>(boot.lockPort);
    php = await bootPhp(boot, lockManager);
  } catch (error) {
    send({ type: 'boot-failed', error: String((error as Error)?.stack ?? error) });
    return;
  }
  port.on('message', (message: ToWorker) => {
    if (message.type === 'run') void run(php, message);
  });
  send({ type: 'ready', bootMs: Math.round(performance.now() - started) });
}

async function run(php: PHP, { id, job, body }: Extract<ToWorker, { type: 'run' }>): Promise<void> {
  try {
    const response = await php.runStream({
      scriptPath: job.scriptPath,
      relativeUri: job.relativeUri,
      method: job.method as never,
      protocol: job.protocol,
      headers: job.headers,
      $_SERVER: job.server,
      ...(body ? { body } : {}),
    });
    const errors = response.stderrText; // drain stderr concurrently, or PHP can stall on a full pipe
    const [status, headers] = await Promise.all([response.httpStatusCode, response.headers]);
    send({ type: 'head', id, status, headers });
    const reader = response.stdout.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      // Own the bytes before transferring them: the stream may hand out views of a shared buffer.
      const chunk = value.byteOffset === 0 && value.byteLength === value.buffer.byteLength ? value : value.slice();
      send({ type: 'chunk', id, data: chunk }, [chunk.buffer as ArrayBuffer]);
    }
    send({ type: 'end', id, exitCode: await response.exitCode, errors: await errors });
  } catch (error) {
    send({ type: 'failed', id, error: String((error as Error)?.stack ?? error) });
  }
}

void main();
