import { METHODS, STATUS_CODES } from 'node:http';
import { realpathSync } from 'node:fs';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import proxyAddr from 'proxy-addr';
import type { Logger } from 'pino';
import { fromCgi, toCgi, type CgiContext, type CgiRequest } from './cgi.js';
import type { ServerConfig } from './config/types.js';
import { createDocrootView } from './docroot-view.js';
import { GUEST_DOCROOT } from './paths.js';
import { PoolError, type WorkerPool } from './pool/pool.js';
import { BodySpool, bodySize, receiveBody, type BodyLimits, type RequestBody } from './request-body.js';
import { DeclaredLengthBody, declaredLength } from './response-framing.js';
import { registerCompression } from './compression.js';
import { limitRequestsPerConnection } from './connection-limit.js';
import { resolveRequest, routeOptionsFrom } from './routing.js';
import { StaticCache } from './static-cache.js';
import { serveStatic } from './static-files.js';
import { SERVER_SOFTWARE } from './version.js';
import type { ServerMetrics } from './metrics.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** What the access log reports: the worker that ran PHP, or "static". */
    servedBy?: string;
    bytesSent?: number;
    /** A spooled body handed to the pool: the file goes when PHP's response ends, not with the reply. */
    bodyInPool?: boolean;
    /** A static file answered from the in-memory cache. */
    fromMemory?: boolean;
  }
}

export interface AppDeps {
  config: ServerConfig;
  pool: WorkerPool;
  log: Logger;
  metrics?: ServerMetrics;
  /** True once shutdown began: responses then close their connection instead of keeping it alive. */
  draining?: () => boolean;
}

/** One catch-all route: route → static file | PHP through the pool | redirect | error. */
export function buildApp({ config, pool, log, metrics, draining }: AppDeps): FastifyInstance {
  const trusted = proxyAddr.compile(config.trustProxy);
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }), // our access-log hook writes the access line
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
    // find-my-way refuses a path it cannot decode (e.g. /%c0%ae) before any route or hook runs: without
    // this, Fastify answered with its own JSON and the request never reached the access log.
    frameworkErrors: (error, request, reply) => refuseUnroutable(error, request as FastifyRequest, reply as FastifyReply),
  });

  const docrootReal = realpathSync(config.docroot);
  const view = createDocrootView(docrootReal, { cacheMs: config.statCache * 1000 });
  const routeOptions = routeOptionsFrom(config);
  const staticCache = config.statCache > 0
    ? new StaticCache(docrootReal, { maxFileBytes: 512 * 1024, maxTotalBytes: 64 * 1024 * 1024, revalidateMs: config.statCache * 1000 })
    : undefined;
  const cgiContext: CgiContext = { serverSoftware: SERVER_SOFTWARE, documentRoot: GUEST_DOCROOT };

  if (config.compress) registerCompression(app);

  const spool = new BodySpool();
  app.addHook('onClose', async () => spool.dispose());
  limitRequestsPerConnection(app, config.maxRequestsPerConnection);
  const bodyLimits: BodyLimits = {
    maxBytes: config.maxBody,
    timeoutMs: config.bodyTimeout * 1000,
    minRate: config.bodyMinRate,
    spoolAboveBytes: SPOOL_ABOVE_BYTES,
    spool,
  };
  // PHP gets every body as it came (php://input, its own form and upload parsing): nothing is parsed here.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (request, payload, done) => {
    receiveBody(payload, request.headers, bodyLimits).then((body) => done(null, body), (error: Error) => done(error, undefined));
  });

  const accessLog = (request: FastifyRequest, reply: FastifyReply) => {
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
      const kind = request.servedBy === 'static' ? 'static' : request.servedBy?.startsWith('php-') ? 'php' : 'other';
      metrics.observeRequest(kind, status, reply.elapsedTime / 1000);
      if (request.fromMemory) metrics.staticCacheHit();
    }
  };
  // 'close' fires for every response, also when the client leaves mid-body: onResponse does not run
  // then, and such requests went unlogged.
  app.addHook('onRequest', async (request, reply) => {
    reply.raw.once('close', () => {
      accessLog(request, reply);
      // A body spooled for a request that never reached PHP (405, 404, refused): its file goes now.
      const body = request.body as RequestBody | null | undefined;
      if (body?.kind === 'file' && !request.bodyInPool) spool.remove(body.path);
    });
    // A body is read before the route runs: with every worker busy and the queue full, refuse it
    // before reading (and buffering) it, as the answer would be 503 anyway.
    if (hasBody(request.raw.headers) && pool.readiness === 'queue full') {
      log.warn({ path: request.url }, 'queue full: request with a body refused before reading it');
      return reply.code(503).header('retry-after', String(Math.max(1, Math.ceil(config.requestTimeout / 4)))).header('connection', 'close')
        .type('text/plain; charset=utf-8').send(`503 ${statusText(503)}\n`);
    }
    // RFC 9112 §3.2: more than one Host is a 400. Node keeps the first, so two parts of a chain
    // (a proxy and this server) could each believe a different one.
    if ((request.raw.headersDistinct.host?.length ?? 0) > 1) {
      log.debug({ path: request.url }, 'request refused: more than one Host header');
      return reply.code(400).type('text/plain; charset=utf-8').send(`400 ${statusText(400)}\n`);
    }
  });

  // A keep-alive connection that was busy when shutdown began would otherwise stay open (and hold
  // the shutdown) until the client's idle timeout: the last response on it says the connection ends.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (draining?.()) reply.header('connection', 'close');
    return payload;
  });

  function refuseUnroutable(error: Error & { statusCode?: number }, request: FastifyRequest, reply: FastifyReply) {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
    log.debug({ path: request.url, reason: error.message }, 'request refused');
    reply.raw.once('close', () => accessLog(request, reply)); // no hooks run for these
    void reply.code(status).type('text/plain; charset=utf-8').send(`${status} ${statusText(status)}\n`);
  }

  app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    log[status >= 500 ? 'error' : 'info']({ err: error, path: request.url }, 'request failed');
    if (reply.sent || reply.raw.headersSent) return;
    // The rest of a refused body is never read: close, else Node reads and discards all of it.
    if (status === 408 || status === 413) reply.header('connection', 'close');
    void reply.code(status).type('text/plain; charset=utf-8').send(`${status} ${statusText(status)}\n`);
  });

  // Fastify routes only its standard methods; PHP gets every method Node parses (WebDAV/CalDAV apps
  // need PROPFIND, REPORT, MKCOL…), with a body, as Apache and php-fpm would pass them.
  for (const method of METHODS) {
    if (method !== 'CONNECT' && !app.supportedMethods.includes(method)) app.addHttpMethod(method, { hasBody: true });
  }

  // Inside a plugin so that it is added after the compression plugin, which hooks into routes as they are added.
  void app.register(async (scope) => {
    scope.all('*', async (request, reply) => {
      const resolution = resolveRequest(request.url, view, routeOptions, request.method);
      switch (resolution.type) {
        case 'error':
          log.debug({ path: request.url, reason: resolution.reason }, 'request refused');
          if (resolution.status === 405) reply.header('allow', resolution.allow);
          return reply.code(resolution.status).type('text/plain; charset=utf-8').send(`${resolution.status} ${statusText(resolution.status)}\n`);
        case 'redirect':
          return reply.redirect(resolution.location, resolution.status);
        case 'static':
          request.servedBy = 'static';
          return serveStatic(request, reply, docrootReal, resolution.relPath, staticCache, config.compress, view);
        case 'php':
          return runPhp(request, reply, resolution);
      }
    });
  });

  async function runPhp(request: FastifyRequest, reply: FastifyReply, target: { relPath: string; scriptName: string; pathInfo: string }) {
    // Methods Fastify does not parse (GET, PROPFIND…) may carry a body too: PHP gets it as well.
    const body = (request.body as RequestBody | null | undefined) ?? (await receiveBody(request.raw, request.headers, bodyLimits));
    const removeSpooled = () => { if (body?.kind === 'file') spool.remove(body.path); };
    request.bodyInPool = true;
    const socket = request.raw.socket;
    const cgiRequest: CgiRequest = {
      method: request.method,
      rawUrl: request.url,
      httpVersion: request.raw.httpVersion,
      headers: request.raw.headersDistinct,
      peerAddress: socket.remoteAddress ?? '',
      peerPort: socket.remotePort ?? 0,
      localAddress: socket.localAddress ?? '',
      localPort: socket.localPort ?? 0,
      tls: 'encrypted' in socket,
      fromTrustedProxy: config.trustProxy.length > 0 && trusted(socket.remoteAddress ?? '', 0),
      clientAddress: request.ip,
      bodyLength: body ? bodySize(body) : null,
    };
    const job = toCgi(cgiRequest, target, cgiContext);
    // A client that leaves while its request waits for a worker must not cost a worker.
    const clientGone = new AbortController();
    const onClose = () => { if (!reply.raw.writableFinished) clientGone.abort(); };
    reply.raw.once('close', onClose);
    let response;
    try {
      response = await pool.run(job, toWorkerBody(body), clientGone.signal);
      // The worker has read a spooled body when it ends its response; the file goes then.
      response.body.once('close', removeSpooled);
    } catch (error) {
      removeSpooled();
      if (!(error instanceof PoolError)) throw error;
      if (error.status === 499) {
        log.info({ path: request.url, reason: error.message }, 'php request dropped');
        return reply.code(499).send(); // to nobody: the connection is closed
      }
      log.warn({ path: request.url, status: error.status, reason: error.message }, 'php request not served');
      if (error.retryAfterSeconds) reply.header('retry-after', String(error.retryAfterSeconds));
      return reply.code(error.status).type('text/plain; charset=utf-8').send(`${error.status} ${statusText(error.status)}\n`);
    }
    reply.raw.off('close', onClose);
    // From here a client that leaves ends PHP at its next output (unless it set ignore_user_abort).
    reply.raw.once('close', () => { if (!reply.raw.writableFinished) response.abort(); });
    request.servedBy = `php-${response.workerId}`;
    const head = fromCgi(response.status, response.headers);
    if (head.dropped.length) log.warn({ path: request.url, worker: response.workerId, headers: head.dropped }, 'php sent headers HTTP cannot carry; dropped');
    const declared = declaredLength(head.headers['content-length']);
    if (declared === 'invalid') {
      log.warn({ path: request.url, worker: response.workerId, contentLength: head.headers['content-length'] }, 'php sent an unusable Content-Length; dropped');
      delete head.headers['content-length'];
    }
    reply.code(head.status).headers(head.headers);
    let bytes = 0;
    response.body.on('data', (chunk: Buffer) => { bytes += chunk.length; request.bytesSent = Math.min(bytes, typeof declared === 'number' ? declared : Infinity); });
    if (request.method === 'HEAD') {
      response.body.resume(); // PHP still runs to the end; the client gets the head only (PHP's Content-Length kept)
      return reply.send();
    }
    if (typeof declared === 'number') {
      const framed = new DeclaredLengthBody(declared, (cut) => log.warn({ path: request.url, worker: response.workerId, declared, cut }, 'php output beyond its Content-Length; cut'));
      framed.on('error', (error) => log.warn({ path: request.url, worker: response.workerId, reason: error.message }, 'php output shorter than its Content-Length; connection closed'));
      return reply.send(response.body.pipe(framed));
    }
    // Complete already: one write with a Content-Length instead of a chunked stream.
    if (response.whole) {
      request.bytesSent = response.whole.length;
      response.body.resume();
      return reply.send(response.whole);
    }
    return reply.send(response.body);
  }

  return app;
}

/** Request bodies above this are spooled to a file while they wait for a worker. */
const SPOOL_ABOVE_BYTES = 1024 * 1024;

function toWorkerBody(body: RequestBody | null): Uint8Array | { path: string } | null {
  if (!body) return null;
  return body.kind === 'file' ? { path: body.path } : new Uint8Array(body.bytes.buffer, body.bytes.byteOffset, body.bytes.byteLength);
}

function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  return headers['transfer-encoding'] !== undefined || Number(headers['content-length'] ?? 0) > 0;
}

/** The one plain-text body every error reply has: "404 Not Found". */
function statusText(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}
