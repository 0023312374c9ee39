/**
 * The self-call listener: PHP's connections to this server (see sandbox/self-route.ts) arrive here,
 * on a loopback port of their own, and are served by the same Fastify app as every visitor. Arriving
 * here is what marks a request as a self-call: the pool may then give it a self-call worker, because
 * its caller is holding a worker while it waits (see PoolOptions.selfCallWorkers).
 */
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

const selfCallSockets = new WeakSet<Socket>();

/** Whether a request's connection came through the self-call listener. */
export function isSelfCall(socket: Socket): boolean {
  return selfCallSockets.has(socket);
}

/** The header a self-call carries to have its X-Forwarded-* believed (value: the server's token). */
export const SELF_CALL_TOKEN_HEADER = 'x-php-wasm-server-self-call';

export interface SelfCallListener {
  port: number;
  /** Hands requests to the app; until then (workers still warming up) they get 503. */
  serve(app: FastifyInstance): void;
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 at a free port, before the workers boot (PHP is told the address), with the
 * same head-timeout and keep-alive limits as the main listener.
 */
export async function listenForSelfCalls(limits: { headersTimeoutMs: number; keepAliveTimeoutMs: number; maxHeaderSize: number }): Promise<SelfCallListener> {
  let app: FastifyInstance | undefined;
  const server = createServer({ headersTimeout: limits.headersTimeoutMs, maxHeaderSize: limits.maxHeaderSize, keepAliveTimeout: limits.keepAliveTimeoutMs }, (request, response) => {
    if (app) return app.routing(request, response);
    response.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' }).end('starting\n');
  });
  server.on('connection', (socket: Socket) => selfCallSockets.add(socket));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    serve: (ready) => { app = ready; },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    }),
  };
}
