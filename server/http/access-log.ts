import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { ServerMetrics } from '../metrics.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** What the access log reports: the worker that ran PHP, or "static". */
    servedBy?: string;
    bytesSent?: number;
    /** A static file answered from the in-memory cache. */
    fromMemory?: boolean;
  }
}

export interface AccessLogOptions {
  log: Logger;
  metrics?: ServerMetrics;
}

/** One access line (and the request metrics) for a finished or abandoned response. */
export function logAccess({ log, metrics }: AccessLogOptions, request: FastifyRequest, reply: FastifyReply): void {
  // HEAD and 304 send no body, whatever PHP produced or the file's Content-Length says.
  const bodyless = request.method === 'HEAD' || reply.statusCode === 304 || reply.statusCode === 204;
  // A client that left before the response was complete is logged as 499, as nginx does.
  const status = reply.raw.writableFinished ? reply.statusCode : 499;
  log.info({
    method: request.method,
    path: request.url,
    status,
    bytes: bodyless ? 0 : request.bytesSent ?? Number(reply.getHeader('content-length') ?? 0),
    ms: Math.round(reply.elapsedTime * 10) / 10,
    worker: request.servedBy,
    remote: request.ip,
    ...(reply.raw.writableFinished ? {} : { aborted: true }),
  }, 'request');
  if (metrics) {
    const kind = request.servedBy === 'static' || request.servedBy === 'page-cache' ? request.servedBy : request.servedBy?.startsWith('php-') ? 'php' : 'other';
    metrics.observeRequest(kind, status, reply.elapsedTime / 1000);
    if (request.fromMemory) metrics.staticCacheHit();
  }
}

/**
 * The access log. It listens for the response's 'close', which fires for every response, also when
 * the client leaves mid-body: Fastify's onResponse does not run then, and such requests went unlogged.
 */
export const accessLog = fp<AccessLogOptions>(async (app, options) => {
  app.addHook('onRequest', async (request, reply) => {
    reply.raw.once('close', () => logAccess(options, request, reply));
  });
}, { name: 'access-log' });
