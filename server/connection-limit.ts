import type { Socket } from 'node:net';
import fp from 'fastify-plugin';

/**
 * --max-requests-per-connection, as nginx's keepalive_requests: the response that reaches the limit
 * says `Connection: close` and the connection ends after it. Node's own maxRequestsPerSocket only
 * says so, keeps the socket open, and answers every further request on it with 503 — a client that
 * keeps going (autocannon does on Node 26) then sees errors instead of a reconnect.
 */
export const requestsPerConnection = fp<{ max: number }>(async (app, { max }) => {
  if (max <= 0) return;
  const served = new WeakMap<Socket, number>();
  app.addHook('onRequest', async (request, reply) => {
    const socket = request.raw.socket;
    const count = (served.get(socket) ?? 0) + 1;
    served.set(socket, count);
    // Node ends the socket after a response whose Connection header says close.
    if (count >= max) reply.header('connection', 'close');
  });
}, { name: 'requests-per-connection' });
