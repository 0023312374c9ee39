import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { FileLockManagerInMemory, exposeSyncAPI } from '@php-wasm/universal';

/**
 * One file lock table for every worker of this process. Emscripten's default locks are per OS
 * process, so without this two workers writing one SQLite file corrupt it.
 */
export class SharedFileLocks {
  readonly manager = new FileLockManagerInMemory();

  /** A port for one worker; the worker calls the manager synchronously through it. */
  async portForWorker(): Promise<MessagePort> {
    const { port1, port2 } = new MessageChannel();
    await exposeSyncAPI(this.manager, port1);
    port1.unref();
    return port2;
  }

  /** A stopped worker can no longer unlock: free what it held, or other writers wait forever. */
  releaseProcess(processId: number): void {
    this.manager.releaseLocksForProcess(processId);
  }
}
