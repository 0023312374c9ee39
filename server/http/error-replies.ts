import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { sendPlain } from './plain-reply.js';

/**
 * Every failure answers "NNN Reason" as text/plain with a log line: 5xx at error level, the rest at
 * info. A refused body (408 timeout, 413 too large) also closes the connection, since its rest is
 * never read (Node would otherwise read and discard all of it).
 */
export const errorReplies = fp<{ log: Logger }>(async (app, { log }) => {
  app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    log[status >= 500 ? 'error' : 'info']({ err: error, path: request.url }, 'request failed');
    if (reply.sent || reply.raw.headersSent) return;
    if (status === 408 || status === 413) reply.header('connection', 'close');
    void sendPlain(reply, status);
  });
}, { name: 'error-replies' });

/**
 * For Fastify's `frameworkErrors`: find-my-way refuses a path it cannot decode (e.g. /%c0%ae) before
 * any route or hook runs. Without this, Fastify answered with its own JSON, and the request never
 * reached the access log (`logged` is called instead, as no hook runs for these).
 */
export function refuseUnroutable(log: Logger, logged: (request: FastifyRequest, reply: FastifyReply) => void) {
  return (error: Error & { statusCode?: number }, request: FastifyRequest, reply: FastifyReply): void => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
    log.debug({ path: request.url, reason: error.message }, 'request refused');
    reply.raw.once('close', () => logged(request, reply));
    void sendPlain(reply, status);
  };
}
