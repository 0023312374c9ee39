import { METHODS } from 'node:http';
import { realpathSync } from 'node:fs';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import proxyAddr from 'proxy-addr';
import type { Logger } from 'pino';
import type { CgiContext } from './cgi.js';
import type { ServerConfig } from './config/types.js';
import { createDocrootView } from './docroot-view.js';
import { GUEST_DOCROOT } from './paths.js';
import type { WorkerPool } from './pool/pool.js';
import { BodySpool, type BodyLimits } from './request-body.js';
import { compression } from './compression.js';
import { requestsPerConnection } from './connection-limit.js';
import { routeOptionsFrom } from './routing.js';
import { StaticCache } from './static-cache.js';
import { SERVER_SOFTWARE } from './version.js';
import type { ServerMetrics } from './metrics.js';
import { accessLog, logAccess } from './http/access-log.js';
import { errorReplies, refuseUnroutable } from './http/error-replies.js';
import { requestBodies } from './http/request-bodies.js';
import { closeWhenDraining, singleHost } from './http/request-checks.js';
import { createPhpHandler } from './http/php-handler.js';
import { siteRoute } from './http/site-route.js';
import { docrootOverlays } from './site-overlays.js';
import type { PageCache } from './page-cache/page-cache.js';

export interface AppDeps {
  config: ServerConfig;
  pool: WorkerPool;
  log: Logger;
  metrics?: ServerMetrics;
  /** True once shutdown began: responses then close their connection instead of keeping it alive. */
  draining?: () => boolean;
  /** What a self-call shows to have its X-Forwarded-* believed (see http/self-calls.ts). */
  selfCallToken?: string;
  /** --page-cache. */
  pageCache?: PageCache;
}

/** Request bodies above this are spooled to a file while they wait for a worker. */
const SPOOL_ABOVE_BYTES = 1024 * 1024;

/**
 * The HTTP server: Fastify with its limits, and one plugin per concern (server/http/), in the order
 * their hooks must run. Nothing here handles a request itself.
 */
export function buildApp({ config, pool, log, metrics, draining, selfCallToken, pageCache }: AppDeps): FastifyInstance {
  const trusted = proxyAddr.compile(config.trustProxy);
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }), // the access-log plugin writes the access line
    trustProxy: config.trustProxy.length ? (address: string, hop: number) => trusted(address, hop) : false,
    bodyLimit: config.maxBody,
    return503OnClosing: true,
    // Slow and abusive clients (nginx's limits as reference): a head trickled in byte by byte is cut
    // off after headerTimeout; Node checks pending heads every second instead of every 30 s.
    http: {
      headersTimeout: config.headerTimeout * 1000,
      connectionsCheckingInterval: Math.min(1000, (config.headerTimeout * 1000) / 2),
      maxHeaderSize: config.maxHeaderSize,
    },
    keepAliveTimeout: config.keepAliveTimeout * 1000,
    // Not Node's maxRequestsPerSocket (it answers 503 instead of closing): see connection-limit.ts.
    // Request-target checks (traversal, encodings) are the router's job, not a 400 from find-my-way.
    routerOptions: { ignoreDuplicateSlashes: false, maxParamLength: 100_000 },
    frameworkErrors: refuseUnroutable(log, (request, reply) => logAccess({ log, metrics }, request, reply)),
  });

  const docrootReal = realpathSync(config.docroot);
  const overlays = docrootOverlays(config.mounts, GUEST_DOCROOT);
  const view = createDocrootView(docrootReal, { cacheMs: config.statCache * 1000, overlays });
  const staticCache = config.statCache > 0
    ? new StaticCache(docrootReal, { maxFileBytes: 512 * 1024, maxTotalBytes: 64 * 1024 * 1024, revalidateMs: config.statCache * 1000 })
    : undefined;
  const cgiContext: CgiContext = { serverSoftware: SERVER_SOFTWARE, documentRoot: GUEST_DOCROOT };
  const bodyLimits: BodyLimits = {
    maxBytes: config.maxBody,
    timeoutMs: config.bodyTimeout * 1000,
    minRate: config.bodyMinRate,
    spoolAboveBytes: SPOOL_ABOVE_BYTES,
    spool: new BodySpool(),
  };

  // Before the routes: the compression plugin hooks into each route as it is added.
  if (config.compress) void app.register(compression);
  void app.register(requestsPerConnection, { max: config.maxRequestsPerConnection });
  void app.register(accessLog, { log, metrics });
  void app.register(requestBodies, {
    limits: bodyLimits,
    queueFull: () => pool.readiness === 'queue full',
    retryAfterSeconds: Math.max(1, Math.ceil(config.requestTimeout / 4)),
    log,
  });
  void app.register(singleHost, { log });
  void app.register(closeWhenDraining, { draining });
  void app.register(errorReplies, { log });

  // Fastify routes only its standard methods; PHP gets every method Node parses (WebDAV/CalDAV apps
  // need PROPFIND, REPORT, MKCOL…), with a body, as Apache and php-fpm would pass them.
  for (const method of METHODS) {
    if (method !== 'CONNECT' && !app.supportedMethods.includes(method)) app.addHttpMethod(method, { hasBody: true });
  }

  const runPhp = createPhpHandler({
    pool,
    log,
    bodyLimits,
    cgiContext,
    isTrustedProxy: (address) => config.trustProxy.length > 0 && trusted(address, 0),
    selfCallToken,
    pageCache,
    frontController: config.frontController,
    compress: config.compress,
  });
  void app.register(siteRoute, {
    view,
    routeOptions: routeOptionsFrom(config),
    docrootReal,
    overlays,
    staticCache,
    compress: config.compress,
    runPhp,
    log,
  });
  return app;
}
