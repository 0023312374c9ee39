import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { fromCgi, toCgi, type CgiContext, type CgiRequest } from '../cgi.js';
import { PoolError, type WorkerPool } from '../pool/pool.js';
import { bodySize, type BodyLimits, type RequestBody } from '../request-body.js';
import { DeclaredLengthBody, declaredLength } from '../response-framing.js';
import { bodyOf } from './request-bodies.js';
import { sendPlain } from './plain-reply.js';
import { isSelfCall, SELF_CALL_TOKEN_HEADER } from './self-calls.js';
import { timingSafeEqual } from 'node:crypto';
import type { PageCache } from '../page-cache/page-cache.js';
import { keepWhenComplete, lookupFor, sendCachedPage, takePurge } from '../page-cache/serve.js';

export interface PhpHandlerDeps {
  pool: WorkerPool;
  log: Logger;
  bodyLimits: BodyLimits;
  cgiContext: CgiContext;
  /** Whether the peer is a proxy whose X-Forwarded-* are believed (--trust-proxy). */
  isTrustedProxy: (address: string) => boolean;
  /** A self-call showing it (SELF_CALL_TOKEN_HEADER) has its X-Forwarded-* believed: PHP itself made it. */
  selfCallToken?: string;
  /** --page-cache: anonymous pages answered from memory (only pages of the front controller, e.g. WordPress's index.php). */
  pageCache?: PageCache;
  frontController?: string;
  compress?: boolean;
}

export interface PhpTarget {
  relPath: string;
  scriptName: string;
  pathInfo: string;
}

/**
 * A PHP request end to end: the body, CGI meta-variables, a worker from the pool, then PHP's
 * response streamed back at the client's pace. A client that leaves while waiting for a worker costs
 * no worker; one that leaves later aborts PHP at its next output (unless ignore_user_abort).
 */
export function createPhpHandler({ pool, log, bodyLimits, cgiContext, isTrustedProxy, selfCallToken, pageCache, frontController, compress = false }: PhpHandlerDeps) {
  const spool = bodyLimits.spool;
  return async function runPhp(request: FastifyRequest, reply: FastifyReply, target: PhpTarget) {
    const body = await bodyOf(request, bodyLimits);
    const removeSpooled = () => { if (body?.kind === 'file') spool.remove(body.path); };
    request.bodyInPool = true;
    const socket = request.raw.socket;
    const selfCall = isSelfCall(socket);
    const headers = request.raw.headersDistinct;
    const vouched = selfCall && selfCallToken !== undefined && headers[SELF_CALL_TOKEN_HEADER]?.length === 1 && safeEqual(headers[SELF_CALL_TOKEN_HEADER][0]!, selfCallToken);
    delete headers[SELF_CALL_TOKEN_HEADER]; // never shown to PHP
    const cgiRequest: CgiRequest = {
      method: request.method,
      rawUrl: request.url,
      httpVersion: request.raw.httpVersion,
      headers,
      peerAddress: socket.remoteAddress ?? '',
      peerPort: socket.remotePort ?? 0,
      localAddress: socket.localAddress ?? '',
      // A self-call reached the server on its own listener; to PHP it came in where visitors do.
      localPort: (selfCall ? listenPort(request) : socket.localPort) ?? 0,
      tls: 'encrypted' in socket,
      fromTrustedProxy: vouched || isTrustedProxy(socket.remoteAddress ?? ''),
      clientAddress: request.ip,
      bodyLength: body ? bodySize(body) : null,
    };
    const job = toCgi(cgiRequest, target, cgiContext);
    // The app's pages only: other scripts (a plugin's own endpoint, a tool in the docroot) are not
    // written with a shared cache in mind. The key holds the scheme and host PHP sees (behind a
    // trusted proxy: the public ones).
    const cached = pageCache && target.scriptName === frontController && lookupFor(request, job.protocol, job.server.HTTP_HOST ?? '');
    if (pageCache && cached) {
      const page = pageCache.get(cached.key, cached.header);
      if (page) {
        removeSpooled();
        return sendCachedPage(request, reply, pageCache, page, compress);
      }
    }
    const clientGone = new AbortController();
    const onClose = () => { if (!reply.raw.writableFinished) clientGone.abort(); };
    reply.raw.once('close', onClose);
    let response;
    try {
      response = await pool.run(job, toWorkerBody(body), clientGone.signal, { selfCall });
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
      return sendPlain(reply, error.status);
    }
    reply.raw.off('close', onClose);
    let clientLeft = false;
    reply.raw.once('close', () => {
      if (reply.raw.writableFinished) return;
      clientLeft = true;
      response.abort();
    });
    request.servedBy = `php-${response.workerId}`;
    const head = fromCgi(response.status, response.headers);
    if (head.dropped.length) log.warn({ path: request.url, worker: response.workerId, headers: head.dropped }, 'php sent headers HTTP cannot carry; dropped');
    const declared = declaredLength(head.headers['content-length']);
    if (declared === 'invalid') {
      log.warn({ path: request.url, worker: response.workerId, contentLength: head.headers['content-length'] }, 'php sent an unusable Content-Length; dropped');
      delete head.headers['content-length'];
    }
    if (takePurge(head.headers, pageCache)) log.debug({ path: request.url }, 'page cache purged');
    if (pageCache && cached) {
      reply.header('x-cache', 'MISS');
      if (request.method === 'GET') {
        keepWhenComplete(pageCache, cached, head.status, head.headers, response.body, response.whole, typeof declared === 'number' ? declared : undefined, () => clientLeft);
      }
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
  };
}

function toWorkerBody(body: RequestBody | null): Uint8Array | { path: string } | null {
  if (!body) return null;
  return body.kind === 'file' ? { path: body.path } : new Uint8Array(body.bytes.buffer, body.bytes.byteOffset, body.bytes.byteLength);
}

function safeEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function listenPort(request: FastifyRequest): number | undefined {
  const address = request.server.server.address();
  return typeof address === 'object' && address ? address.port : undefined;
}
