import send from '@fastify/send';
import mime from 'mime-types';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { realPathInside } from './docroot-view.js';
import { isNotModified, type StaticCache } from './static-cache.js';
import { COMPRESS_THRESHOLD, isCompressibleType, negotiateEncoding, type ContentEncoding } from './compression.js';
import { statSync } from 'node:fs';
import type { DocrootView } from './routing.js';

/** Request headers that need @fastify/send's full handling (ranges, write preconditions). */
const NEEDS_SEND = ['range', 'if-match', 'if-unmodified-since', 'if-range'];

/**
 * Serves a docroot file directly, never through PHP. Small files come from memory (StaticCache)
 * for plain GET/HEAD and conditional GETs; everything else — large files, Range/206, If-Match —
 * from @fastify/send (ETag, Last-Modified, 304, HEAD). Content-Type from mime-types.
 * The router has already vetted relPath.
 */
export async function serveStatic(request: FastifyRequest, reply: FastifyReply, docroot: string, relPath: string, cache?: StaticCache, compress = false, view?: DocrootView): Promise<FastifyReply> {
  // `docroot` is a real path; the router's answer may be a second old, so check the file itself now.
  if (realPathInside(docroot, relPath) === null) return reply.code(404).type('text/plain; charset=utf-8').send('Not Found\n');
  const encoding = compress ? negotiateEncoding(request.headers['accept-encoding']) : undefined;
  // A precompressed sibling (app.js.br, app.js.gz) the site ships is served as it is, ranges included.
  const sibling = encoding && precompressedSibling(docroot, relPath, encoding, view);
  if (sibling) {
    reply.header('content-encoding', encoding).header('vary', 'accept-encoding');
    return sendFile(request, reply, docroot, sibling, relPath);
  }
  const plain = (request.method === 'GET' || request.method === 'HEAD') && !NEEDS_SEND.some((name) => name in request.headers);
  const cached = plain ? cache?.get(relPath) : null;
  if (cached) {
    request.fromMemory = true;
    reply.headers({ 'accept-ranges': 'bytes', etag: cached.etag, 'last-modified': cached.lastModified });
    if (isNotModified(request.headers, cached)) return reply.code(304).send();
    let body = cached.body;
    if (encoding && body.length >= COMPRESS_THRESHOLD && isCompressibleType(cached.contentType)) {
      body = cache!.encodedBody(relPath, cached, encoding);
      reply.header('content-encoding', encoding);
    }
    reply.headers({ 'content-type': cached.contentType, 'content-length': body.length });
    return reply.code(200).send(request.method === 'HEAD' ? undefined : body);
  }
  return sendFile(request, reply, docroot, relPath, relPath);
}

const SIBLING_SUFFIX: Record<ContentEncoding, string> = { br: '.br', gzip: '.gz' };

function precompressedSibling(docroot: string, relPath: string, encoding: ContentEncoding, view?: DocrootView): string | undefined {
  const candidate = relPath + SIBLING_SUFFIX[encoding];
  // The router's view answers from its short-lived cache: no syscall per request when there is none.
  if (view && view.kind(candidate) !== 'file') return undefined;
  const real = realPathInside(docroot, candidate);
  if (real === null) return undefined;
  try {
    return statSync(real).isFile() ? candidate : undefined;
  } catch {
    return undefined;
  }
}

/** @fastify/send for `relPath`, typed by `typedAs` (the name the client asked for). */
async function sendFile(request: FastifyRequest, reply: FastifyReply, docroot: string, relPath: string, typedAs: string): Promise<FastifyReply> {
  const urlPath = '/' + relPath.split('/').map(encodeURIComponent).join('/');
  const result = await send(request.raw, urlPath, {
    root: docroot,
    dotfiles: 'allow',
    index: false,
    etag: true,
    lastModified: true,
    acceptRanges: true,
    cacheControl: false,
  });
  if (result.type === 'error') {
    const status = (result.metadata.error as { status?: number }).status ?? 500;
    return reply.code(status).type('text/plain; charset=utf-8').send(status === 404 ? 'Not Found\n' : 'Error\n');
  }
  reply.code(result.statusCode).headers(result.headers);
  if (result.type === 'file') {
    const type = mime.contentType(typedAs.slice(typedAs.lastIndexOf('/') + 1));
    if (type) reply.header('content-type', type);
  }
  return reply.send(result.stream);
}
