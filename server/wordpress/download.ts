/**
 * Downloads for assembling a new site (WordPress, the SQLite plugin), done by the server, never by
 * PHP. A file appears under its final name only once it arrived whole and (when a checksum is
 * published) matched it: an interrupted or wrong download leaves nothing behind.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface DownloadLimits {
  /** Larger bodies are refused (a hostile or broken mirror cannot fill the disk). */
  maxBytes: number;
  /** For the whole transfer. */
  timeoutMs: number;
}

export class DownloadError extends Error {}

/** A short text resource (a published checksum). */
export async function fetchText(url: string, limits: DownloadLimits): Promise<string> {
  const response = await get(url, limits);
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > limits.maxBytes) throw new DownloadError(`${url}: ${declared} bytes, more than the ${limits.maxBytes} expected`);
  // Read chunk by chunk: a body without Content-Length is cut off at the limit, not held whole.
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of response.body ?? []) {
    bytes += (chunk as Uint8Array).byteLength;
    if (bytes > limits.maxBytes) break; // leaving the loop cancels the rest of the body
    chunks.push(chunk as Uint8Array);
  }
  if (bytes > limits.maxBytes) throw new DownloadError(`${url}: more than the ${limits.maxBytes} bytes expected`);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Streams `url` into `dest`: first into a temporary file beside it, hashing as it goes, then renamed
 * into place if complete and, when `sha1` is given, equal to it. Returns the file's SHA-1 and size.
 */
export async function downloadFile(url: string, dest: string, limits: DownloadLimits, sha1?: string): Promise<{ sha1: string; bytes: number }> {
  const response = await get(url, limits);
  const declared = response.headers.get('content-length');
  if (declared !== null && Number(declared) > limits.maxBytes) throw new DownloadError(`${url}: ${declared} bytes, more than the ${limits.maxBytes} bytes allowed`);
  if (!response.body) throw new DownloadError(`${url}: empty response`);
  const temporary = `${dest}.partial-${process.pid}-${randomBytes(4).toString('hex')}`;
  const hash = createHash('sha1');
  let bytes = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes > limits.maxBytes) return done(new DownloadError(`${url}: more than the ${limits.maxBytes} bytes allowed`));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), measure, createWriteStream(temporary, { flags: 'wx', mode: 0o644 }));
    if (declared !== null && bytes !== Number(declared)) throw new DownloadError(`${url}: ended after ${bytes} of ${declared} bytes`);
    const actual = hash.digest('hex');
    if (sha1 !== undefined && actual !== sha1.toLowerCase()) throw new DownloadError(`${url}: SHA-1 ${actual} does not match the published ${sha1}`);
    await rename(temporary, dest);
    return { sha1: actual, bytes };
  } catch (error) {
    await rm(temporary, { force: true });
    if (error instanceof DownloadError) throw error;
    throw new DownloadError(`${url}: ${(error as Error).message}`);
  }
}

async function get(url: string, limits: DownloadLimits): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(limits.timeoutMs), redirect: 'follow' });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new DownloadError(`${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new DownloadError(`${url}: HTTP ${response.status}`);
  }
  return response;
}
