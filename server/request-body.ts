import type { IncomingMessage } from 'node:http';

export class BodyTooLargeError extends Error {
  readonly statusCode = 413;
}

/**
 * Reads a body Fastify leaves alone (GET/HEAD and other methods it does not parse), so php://input
 * works for any method. Returns null when the request announces no body.
 */
export async function readUnparsedBody(raw: IncomingMessage, limit: number): Promise<Buffer | null> {
  const length = raw.headers['content-length'];
  const chunked = raw.headers['transfer-encoding'] !== undefined;
  if (!chunked && (length === undefined || length === '0')) return null;
  if (Number(length) > limit) throw new BodyTooLargeError('request body too large');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of raw) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLargeError('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
