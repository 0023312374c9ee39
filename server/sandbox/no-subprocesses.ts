import { createSpawnHandler } from '@php-wasm/util';

/**
 * What PHP gets when something still tries to start a process (mail() → sendmail, internal
 * popen): a "process" that starts and at once exits 127, instead of php.wasm's default of
 * throwing inside the runtime, which leaves the request hanging.
 */
export const refuseSubprocesses = createSpawnHandler(async (command, processApi) => {
  // php.wasm must see the spawn before the exit, or it reports a failed start on stderr.
  await new Promise((resolve) => setTimeout(resolve, 1));
  processApi.stderr(`php-wasm-server: subprocesses are disabled in the sandbox (${command.join(' ')})\n`);
  processApi.exit(127);
});
