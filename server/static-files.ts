import send from '@fastify/send';
import mime from 'mime-types';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { realPathInside } from './docroot-view.js';
import { isNotModified, type StaticCache } from './static-cache.js';

/** Request headers that need @fastify/send's full handling (ranges, write preconditions). */
const NEEDS_SEND = ['range', 'if-match', 'if-unmodified-since', 'if-range'];

/**
 * Serves a docroot file directly, never through PHP. Small files come from memory (StaticCache)
 * for plain GET/HEAD and conditional GETs; everything else — large files, Range/206, If-Match —
 * from @fastify/send (ETag, Last-Modified, 304, HEAD). Content-Type from mime-types.
 * The router has already vetted relPath.
 */
export async function serveStatic(request: FastifyRequest, reply: FastifyReply, docroot: string, relPath: string, cache?: StaticCache): Promise<FastifyReply> {
  // `docroot` is a real path; the router's answer may be a second old, so check the file itself now.
  if (realPathInside(docroot, relPath) === null) return reply.code(404).type('text/plain; charset=utf-8').send('Not Found\n');
  const plain = (request.method === 'GET' || request.method === 'HEAD') && !NEEDS_SEND.some((name) => name in request.headers);
  const cached = plain ? cache?.get(relPath) : null;
  if (cached) {
    request.fromMemory = true;
    reply.headers({ 'accept-ranges': 'bytes', etag: cached.etag, 'last-modified': cached.lastModified });
    if (isNotModified(request.headers, cached)) return reply.code(304).send();
    reply.headers({ 'content-type': cached.contentType, 'content-length': cached.body.length });
    return reply.code(200).send(request.method === 'HEAD' ? undefined : cached.body);
  }
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
    const type = mime.contentType(relPath.slice(relPath.lastIndexOf('/') + 1));
    if (type) reply.header('content-type', type);
  }
  return reply.send(result.stream);
}
