/**
 * Response compression: br or gzip by Accept-Encoding (q-values respected), for PHP output and
 * static text above a size threshold, through @fastify/compress. Streams flush on every write, so
 * a script's flush() still reaches the client at once; what PHP already encoded (ob_gzhandler,
 * zlib.output_compression) and partial content (206) pass through untouched.
 */
import fastifyCompress from '@fastify/compress';
import { Negotiator } from '@fastify/accept-negotiator';
import fp from 'fastify-plugin';
import mimeDb from 'mime-db';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

export type ContentEncoding = 'br' | 'gzip';

/** Smaller bodies gain nothing worth the CPU (nginx gzip_min_length is 20; most servers use ~1 KB). */
export const COMPRESS_THRESHOLD = 1024;

const negotiator = new Negotiator<ContentEncoding | 'identity'>({ supportedValues: ['br', 'gzip', 'identity'] });

/** The encoding the client prefers among br and gzip, or undefined for the identity body. */
export function negotiateEncoding(acceptEncoding: string | string[] | undefined): ContentEncoding | undefined {
  const header = Array.isArray(acceptEncoding) ? acceptEncoding.join(',') : acceptEncoding;
  if (!header) return undefined;
  const chosen = negotiator.negotiate(header);
  return chosen === 'br' || chosen === 'gzip' ? chosen : undefined;
}

/** Text-like types that compress (mime-db's flag, as @fastify/compress decides). */
export function isCompressibleType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const type = contentType.split(';', 1)[0].trim().toLowerCase();
  if (type === 'text/event-stream') return false;
  return mimeDb[type]?.compressible === true || type.startsWith('text/');
}

/** A whole body in the given encoding (static files kept in memory are encoded once per version). */
export function encodeBody(body: Buffer, encoding: ContentEncoding): Buffer {
  return encoding === 'br'
    ? brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } })
    : gzipSync(body, { level: 6 });
}

/** Register before the routes: @fastify/compress hooks into each route as it is added. */
export const compression = fp(async (app) => {
  await app.register(fastifyCompress, {
    global: true,
    encodings: ['br', 'gzip'],
    threshold: COMPRESS_THRESHOLD,
    // Flush after every write: PHP's flush() reaches the client instead of waiting in the encoder.
    zlibOptions: { flush: constants.Z_SYNC_FLUSH },
    brotliOptions: { flush: constants.BROTLI_OPERATION_FLUSH },
    // PHP's request bodies are PHP's to read: never inflate them here.
    globalDecompression: false,
  });
  // Caches must keep encodings apart for every response that could have been encoded, also the
  // ones sent as identity because this client asked for it.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (isCompressibleType(reply.getHeader('content-type') as string | undefined)) addVary(reply, 'accept-encoding');
    return payload;
  });
}, { name: 'compression' });

function addVary(reply: { getHeader(name: string): unknown; header(name: string, value: string): unknown }, name: string): void {
  const current = String(reply.getHeader('vary') ?? '');
  if (current.split(',').some((v) => v.trim().toLowerCase() === name.toLowerCase() || v.trim() === '*')) return;
  reply.header('vary', current ? `${current}, ${name}` : name);
}
