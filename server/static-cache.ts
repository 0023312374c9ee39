import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import mime from 'mime-types';
import { encodeBody, type ContentEncoding } from './compression.js';

/** A small file kept in memory with the validators @fastify/send would compute for it. */
export interface CachedFile {
  body: Buffer;
  /** The body br- or gzip-encoded, made on first demand and kept with this version of the file. */
  encoded: Partial<Record<ContentEncoding, Buffer>>;
  etag: string;
  lastModified: string;
  mtimeMs: number;
  contentType: string;
}

export interface StaticCacheOptions {
  /** Files up to this size are cached. */
  maxFileBytes: number;
  /** Bound on all cached bytes; the oldest entries leave first. */
  maxTotalBytes: number;
  /** How long (ms) a file is served without checking it on disk again. */
  revalidateMs: number;
}

/**
 * The hot static files (theme CSS, jQuery, icons) in memory, so a request costs no open, read and
 * close. A file is checked on disk again (one stat) after `revalidateMs`, and re-read if its size
 * or mtime changed, as nginx's open_file_cache does. ETag/Last-Modified match @fastify/send's.
 */
export class StaticCache {
  private readonly entries = new Map<string, CachedFile & { checkedAt: number }>();
  private totalBytes = 0;

  constructor(private readonly root: string, private readonly options: StaticCacheOptions) {}

  /** The file, or null when it is too large, not a regular file, or unreadable (serve it from disk). */
  get(relPath: string, now = Date.now()): CachedFile | null {
    const hit = this.entries.get(relPath);
    if (hit && now - hit.checkedAt < this.options.revalidateMs) return hit;
    const path = join(this.root, relPath);
    let stat;
    try {
      stat = statSync(path);
    } catch {
      this.forget(relPath);
      return null;
    }
    if (!stat.isFile() || stat.size > this.options.maxFileBytes) {
      this.forget(relPath);
      return null;
    }
    if (hit && hit.mtimeMs === stat.mtimeMs && hit.body.length === stat.size) {
      hit.checkedAt = now;
      return hit;
    }
    let body: Buffer;
    try {
      body = readFileSync(path);
    } catch {
      this.forget(relPath);
      return null;
    }
    this.forget(relPath);
    const entry = {
      body,
      encoded: {},
      etag: `W/"${stat.size.toString(16)}-${stat.mtime.getTime().toString(16)}"`, // exactly as @fastify/send
      lastModified: stat.mtime.toUTCString(),
      mtimeMs: stat.mtimeMs,
      contentType: mime.contentType(relPath.slice(relPath.lastIndexOf('/') + 1)) || 'application/octet-stream',
      checkedAt: now,
    };
    this.entries.set(relPath, entry);
    this.totalBytes += body.length;
    for (const [key, old] of this.entries) {
      if (this.totalBytes <= this.options.maxTotalBytes) break;
      this.entries.delete(key);
      this.totalBytes -= sizeOf(old);
    }
    return entry;
  }

  /** The file's body in `encoding`, encoded once per version and counted against the memory bound. */
  encodedBody(relPath: string, file: CachedFile, encoding: ContentEncoding): Buffer {
    let encoded = file.encoded[encoding];
    if (!encoded) {
      encoded = encodeBody(file.body, encoding);
      file.encoded[encoding] = encoded;
      if (this.entries.get(relPath) === file) this.totalBytes += encoded.length;
    }
    return encoded;
  }

  private forget(relPath: string): void {
    const old = this.entries.get(relPath);
    if (!old) return;
    this.entries.delete(relPath);
    this.totalBytes -= sizeOf(old);
  }
}

function sizeOf(file: CachedFile): number {
  return file.body.length + (file.encoded.br?.length ?? 0) + (file.encoded.gzip?.length ?? 0);
}

/**
 * RFC 9110 §13.1.2–3 for a GET/HEAD: If-None-Match (weak comparison) wins over If-Modified-Since.
 */
export function isNotModified(headers: Record<string, string | string[] | undefined>, file: Pick<CachedFile, 'etag' | 'lastModified'>): boolean {
  const ifNoneMatch = headers['if-none-match'];
  if (typeof ifNoneMatch === 'string') {
    if (ifNoneMatch.trim() === '*') return true;
    const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
    return ifNoneMatch.split(',').some((tag) => opaque(tag) === opaque(file.etag));
  }
  const ifModifiedSince = headers['if-modified-since'];
  if (typeof ifModifiedSince === 'string') {
    const since = Date.parse(ifModifiedSince);
    return !Number.isNaN(since) && Date.parse(file.lastModified) <= since;
  }
  return false;
}
