/**
 * The page cache on the PHP request path: answer from it, or keep what PHP answers. PHP (WordPress,
 * through hooks in its prepend) asks for a purge with a response header the server consumes: a
 * visitor cannot send it, and only content changes send it.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { COMPRESS_THRESHOLD, isCompressibleType, negotiateEncoding } from '../compression.js';
import type { PageCache, CachedPage } from './page-cache.js';
import { baseKey, bypassReason, responseCacheable, varyNames } from './rules.js';

export const PURGE_HEADER = 'x-php-wasm-server-purge';

export interface PageCacheLookup {
  key: string;
  header: (name: string) => string;
}

/** The key to look up for this request, or undefined when it bypasses the cache. */
export function lookupFor(request: FastifyRequest, scheme: string, host: string): PageCacheLookup | undefined {
  const headers = request.raw.headersDistinct;
  if (bypassReason({ method: request.method, url: request.url, headers }) !== null) return undefined;
  return { key: baseKey(scheme, host, request.url), header: (name) => (headers[name] ?? []).join(', ') };
}

/** Sends a kept page: HIT, its age, and the encoding this client takes (encoded once per page). */
export function sendCachedPage(request: FastifyRequest, reply: FastifyReply, cache: PageCache, page: CachedPage, compress: boolean, now = Date.now()): FastifyReply {
  request.servedBy = 'page-cache';
  reply.code(page.status).headers(page.headers);
  reply.header('x-cache', 'HIT').header('age', String(Math.floor((now - page.storedAt) / 1000)));
  let body = page.body;
  const encoding = compress ? negotiateEncoding(request.headers['accept-encoding']) : undefined;
  if (encoding && body.length >= COMPRESS_THRESHOLD && isCompressibleType(page.headers['content-type'] as string | undefined)) {
    body = cache.encoded(page, encoding);
    reply.header('content-encoding', encoding);
  }
  if (request.method === 'HEAD') return reply.header('content-length', String(body.length)).send();
  request.bytesSent = body.length;
  return reply.send(body);
}

/** PHP's purge request: consumed (never sent on), and the cache emptied. */
export function takePurge(headers: Record<string, string | string[]>, cache: PageCache | undefined): boolean {
  if (headers[PURGE_HEADER] === undefined) return false;
  delete headers[PURGE_HEADER];
  cache?.purge();
  return true;
}

/**
 * Keeps PHP's response once it has ended whole, if it may be kept. `declared`: PHP's Content-Length,
 * which the kept body must match (a cut or short body is not a page). `clientLeft`: the visitor went
 * away before the end, so PHP may have stopped early (its output then ends short, not with an error).
 */
export function keepWhenComplete(cache: PageCache, lookup: PageCacheLookup, status: number, headers: Record<string, string | string[]>, body: Readable, whole: Buffer | undefined, declared: number | undefined, clientLeft: () => boolean): void {
  const maxBytes = cache.maxEntryBytes;
  if (!responseCacheable(status, headers)) return;
  const store = (bytes: Buffer) => {
    if (declared !== undefined && bytes.length !== declared) return;
    const kept = { ...headers };
    delete kept['content-length'];
    cache.set(lookup.key, varyNames(headers), lookup.header, { status, headers: kept, body: bytes });
  };
  if (whole) {
    store(whole);
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let failed = false;
  const onData = (chunk: Buffer) => {
    size += chunk.length;
    if (size > maxBytes) {
      failed = true;
      chunks.length = 0;
      body.off('data', onData);
    } else {
      chunks.push(chunk);
    }
  };
  body.on('data', onData);
  body.once('error', () => { failed = true; });
  body.once('end', () => { if (!failed && !clientLeft()) store(Buffer.concat(chunks, size)); });
}
