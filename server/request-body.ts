import { createWriteStream, rmSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { makeServerTempDir } from './server-temp-dirs.js';

export class BodyTooLargeError extends Error {
  readonly statusCode = 413;
}

/** The body came too slowly (mod_reqtimeout's model: see BodyLimits); 408, and the connection closes. */
export class BodyTimeoutError extends Error {
  readonly statusCode = 408;
}

export interface BodyLimits {
  /** Largest body in bytes (413 past it). */
  maxBytes: number;
  /**
   * The body must arrive within `timeoutMs`, extended by one second for every `minRate` bytes that
   * arrived (Apache mod_reqtimeout's `body=20,MinRate=500`): a client sending at the minimum rate
   * always makes it, one trickling a byte every few seconds is cut off after `timeoutMs`, whatever
   * size it announced. (nginx's client_body_timeout bounds only the gap between reads.)
   */
  timeoutMs: number;
  minRate: number;
  /** Bodies larger than this go to a file instead of memory (as nginx and php-fpm do). */
  spoolAboveBytes: number;
  spool: BodySpool;
}

/** A request body: small ones in memory, large ones in a private spool file. */
export type RequestBody =
  | { kind: 'memory'; bytes: Buffer }
  | { kind: 'file'; path: string; size: number };

export function bodySize(body: RequestBody): number {
  return body.kind === 'memory' ? body.bytes.length : body.size;
}

/**
 * Reads a request body under the limits. Returns null when the request announces none. Rejects
 * with BodyTooLargeError or BodyTimeoutError; a spool file of a refused body is removed.
 */
export function receiveBody(stream: Readable, headers: Record<string, string | string[] | undefined>, limits: BodyLimits): Promise<RequestBody | null> {
  const declared = headers['content-length'];
  const chunked = headers['transfer-encoding'] !== undefined;
  if (!chunked && (declared === undefined || declared === '0')) return Promise.resolve(null);
  if (Number(declared) > limits.maxBytes) return Promise.reject(new BodyTooLargeError('request body too large'));

  return new Promise((resolve, reject) => {
    const started = Date.now();
    const chunks: Buffer[] = [];
    let size = 0;
    let file: { path: string; out: WriteStream } | undefined;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;

    const finish = (error: Error | null, body?: RequestBody) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.off('data', onData).off('end', onEnd).off('error', onError).off('aborted', onAborted);
      if (!error) return resolve(body!);
      stream.resume(); // not reading it: let the connection be closed cleanly instead of stalling
      if (file) {
        const { path, out } = file;
        out.destroy();
        limits.spool.remove(path);
      }
      reject(error);
    };
    const deadline = () => started + limits.timeoutMs + (size / limits.minRate) * 1000;
    const watch = () => {
      const left = deadline() - Date.now();
      if (left <= 0) return finish(new BodyTimeoutError(`request body too slow: ${size} bytes in ${Math.round((Date.now() - started) / 1000)} s`));
      timer = setTimeout(watch, left);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limits.maxBytes) return finish(new BodyTooLargeError('request body too large'));
      if (!file && size > limits.spoolAboveBytes) {
        file = limits.spool.create();
        file.out.once('error', (error) => finish(error));
        for (const held of chunks.splice(0)) file.out.write(held);
      }
      if (file) {
        // Respect the disk's pace: a fast client must not fill memory ahead of the file.
        if (!file.out.write(chunk)) {
          stream.pause();
          file.out.once('drain', () => stream.resume());
        }
      } else {
        chunks.push(chunk);
      }
    };
    const onEnd = () => {
      if (!file) return finish(null, { kind: 'memory', bytes: Buffer.concat(chunks, size) });
      const { path, out } = file;
      clearTimeout(timer);
      out.end(() => finish(null, { kind: 'file', path, size }));
    };
    const onError = (error: Error) => finish(error);
    const onAborted = () => finish(new Error('client closed the connection while sending the body'));

    stream.on('data', onData).once('end', onEnd).once('error', onError).once('aborted', onAborted);
    watch();
  });
}

/**
 * A private (0700) folder for request bodies too large to keep in memory, removed with the server
 * (or, if it is killed, at a later start: see server-temp-dirs.ts).
 * Files are 0600 and live only while their request runs.
 */
export class BodySpool {
  private readonly dir = makeServerTempDir('bodies');
  private next = 0;

  create(): { path: string; out: WriteStream } {
    const path = join(this.dir, `body-${process.pid}-${this.next++}`);
    return { path, out: createWriteStream(path, { mode: 0o600, flags: 'wx' }) };
  }

  remove(path: string): void {
    rmSync(path, { force: true });
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
