import { createSpawnHandler } from '@php-wasm/util';
import { refuseProcess } from './no-subprocesses.js';

/** Largest message mail() may hand over (WordPress's mails are a few KB; attachments rarely more). */
export const MAX_MAIL_BYTES = 10 * 1024 * 1024;

/** Hands a message to the main thread's mail relay; true once the relay accepted it. */
export type DeliverMail = (args: string[], message: Uint8Array) => Promise<boolean>;

/**
 * PHP's mail() pipes the message to sendmail_path (`/usr/sbin/sendmail -t -i`). No process runs:
 * the "sendmail" here collects stdin (bounded) and passes it to `deliver`. Its exit code is what
 * mail() returns: 0 is true, 1 is false. Every other command is refused as before.
 */
export function spawnHandlerWithMail(deliver: DeliverMail) {
  return createSpawnHandler(async (command, processApi) => {
    if (!isSendmail(command)) return refuseProcess(command, processApi);
    const chunks: Uint8Array[] = [];
    let size = 0;
    processApi.on('stdin', (data: ArrayBuffer | Uint8Array | string) => {
      const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : new Uint8Array(data as ArrayBuffer);
      size += bytes.byteLength;
      // Past the cap the rest is read and dropped: PHP's write must not block on a full pipe.
      if (size <= MAX_MAIL_BYTES) chunks.push(bytes.slice());
    });
    await new Promise<void>((resolve) => processApi.childProcess.stdin.on('finish', () => resolve()));
    if (size > MAX_MAIL_BYTES) {
      processApi.stderr(`sendmail: message of ${size} bytes is over the ${MAX_MAIL_BYTES}-byte limit\n`);
      processApi.exit(1);
      return;
    }
    const message = new Uint8Array(size);
    let at = 0;
    for (const chunk of chunks) {
      message.set(chunk, at);
      at += chunk.byteLength;
    }
    let sent = false;
    try {
      sent = await deliver(command.slice(1), message);
    } catch {
      sent = false;
    }
    processApi.exit(sent ? 0 : 1);
  });
}

function isSendmail(command: string[]): boolean {
  return /(^|\/)sendmail$/.test(command[0] ?? '');
}
