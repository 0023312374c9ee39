import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { receiveBody, type BodyLimits, type RequestBody } from '../request-body.js';
import { sendPlain } from './plain-reply.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** A spooled body handed to the pool: the file goes when PHP's response ends, not with the reply. */
    bodyInPool?: boolean;
  }
}

export interface RequestBodiesOptions {
  limits: BodyLimits;
  /** Every worker busy and the queue full: a request's answer would be 503 whatever its body. */
  queueFull: () => boolean;
  retryAfterSeconds: number;
  log: Logger;
}

/**
 * Request bodies reach PHP as they came (php://input, its own form and upload parsing): nothing is
 * parsed here. They are read under the limits (size, time, rate), large ones spooled to a private
 * file; a spooled body that never reaches PHP (405, 404, refused) is removed when its reply ends.
 */
export const requestBodies = fp<RequestBodiesOptions>(async (app, { limits, queueFull, retryAfterSeconds, log }) => {
  app.addHook('onClose', async () => limits.spool.dispose());
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (request, payload, done) => {
    receiveBody(payload, request.headers, limits).then((body) => done(null, body), (error: Error) => done(error, undefined));
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.raw.once('close', () => {
      const body = request.body as RequestBody | null | undefined;
      if (body?.kind === 'file' && !request.bodyInPool) limits.spool.remove(body.path);
    });
    // Refused before the body is read (and buffered), as the answer would be 503 anyway.
    if (hasBody(request.raw.headers) && queueFull()) {
      log.warn({ path: request.url }, 'queue full: request with a body refused before reading it');
      return sendPlain(reply.header('retry-after', String(retryAfterSeconds)).header('connection', 'close'), 503);
    }
  });
}, { name: 'request-bodies' });

/** The request's body: Fastify parsed it for POST/PUT/PATCH; other methods (GET, PROPFIND…) may carry one too. */
export async function bodyOf(request: FastifyRequest, limits: BodyLimits): Promise<RequestBody | null> {
  return (request.body as RequestBody | null | undefined) ?? (await receiveBody(request.raw, request.headers, limits));
}

function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  return headers['transfer-encoding'] !== undefined || Number(headers['content-length'] ?? 0) > 0;
}
