import send from '@fastify/send';
import mime from 'mime-types';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Serves a docroot file directly, never through PHP: ETag, Last-Modified, 304, Range/206 and HEAD
 * come from @fastify/send; the Content-Type from mime-types. The router has already vetted relPath.
 */
export async function serveStatic(request: FastifyRequest, reply: FastifyReply, docroot: string, relPath: string): Promise<FastifyReply> {
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
