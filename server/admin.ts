/**
 * The admin listener (--admin-port): liveness, readiness and Prometheus metrics for orchestrators
 * and scrapers. It is a Fastify instance of its own, so none of it is ever reachable on the public
 * port, and it answers while PHP workers are still starting or the server is draining.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { connectableHost } from './host-address.js';
import type { ServerMetrics } from './metrics.js';
import type { WorkerPool } from './pool/pool.js';

export interface AdminDeps {
  host: string;
  port: number;
  log: Logger;
  metrics: ServerMetrics;
  /** Undefined until the pool exists. */
  pool: () => WorkerPool | undefined;
  draining: () => boolean;
}

export async function startAdmin({ host, port, log, metrics, pool, draining }: AdminDeps): Promise<FastifyInstance> {
  const admin = Fastify({
    loggerInstance: log.child({ listener: 'admin' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }), // probes every few seconds: no access lines
  });
  const text = (body: string) => body + '\n';

  // Alive: the event loop answers. A busy server is alive; restarting it would only lose work.
  admin.get('/healthz', async (_request, reply) => reply.type('text/plain; charset=utf-8').send(text('ok')));

  // Ready: a request sent now would be taken by a worker (at once or from the queue).
  admin.get('/readyz', async (_request, reply) => {
    const state = draining() ? 'draining' : pool()?.readiness ?? 'starting';
    return reply.code(state === 'ready' ? 200 : 503).type('text/plain; charset=utf-8').send(text(state));
  });

  admin.get('/metrics', async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  await admin.listen({ host, port });
  const address = admin.server.address();
  log.info({ adminUrl: `http://${connectableHost(host)}:${typeof address === 'object' && address ? address.port : port}` }, 'admin listening');
  return admin;
}
