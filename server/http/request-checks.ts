import fp from 'fastify-plugin';
import type { Logger } from 'pino';
import { sendPlain } from './plain-reply.js';

/**
 * RFC 9112 §3.2: more than one Host is a 400. Node keeps the first, so two parts of a chain (a proxy
 * and this server) could each believe a different one.
 */
export const singleHost = fp<{ log: Logger }>(async (app, { log }) => {
  app.addHook('onRequest', async (request, reply) => {
    if ((request.raw.headersDistinct.host?.length ?? 0) > 1) {
      log.debug({ path: request.url }, 'request refused: more than one Host header');
      return sendPlain(reply, 400);
    }
  });
}, { name: 'single-host' });

/**
 * A keep-alive connection that was busy when shutdown began would otherwise stay open (and hold the
 * shutdown) until the client's idle timeout: the last response on it says the connection ends.
 */
export const closeWhenDraining = fp<{ draining?: () => boolean }>(async (app, { draining }) => {
  app.addHook('onSend', async (_request, reply, payload) => {
    if (draining?.()) reply.header('connection', 'close');
    return payload;
  });
}, { name: 'close-when-draining' });
