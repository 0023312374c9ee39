import { createSpawnHandler } from '@php-wasm/util';

/** @php-wasm/util does not export the class it hands to a spawn handler. */
export type ProcessApi = Parameters<Parameters<typeof createSpawnHandler>[0]>[1];

/**
 * What PHP gets when something still tries to start a process (internal popen, or mail() in a
 * worker without a mail relay): a "process" that starts and at once exits 127, instead of
 * php.wasm's default of throwing inside the runtime, which leaves the request hanging.
 */
export async function refuseProcess(command: string[], processApi: ProcessApi): Promise<void> {
  // php.wasm must see the spawn before the exit, or it reports a failed start on stderr.
  await new Promise((resolve) => setTimeout(resolve, 1));
  processApi.stderr(`php-wasm-server: subprocesses are disabled in the sandbox (${command.join(' ')})\n`);
  processApi.exit(127);
}

export const refuseSubprocesses = createSpawnHandler(refuseProcess);
