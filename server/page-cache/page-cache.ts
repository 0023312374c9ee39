/**
 * Anonymous pages kept in memory for a short time (nginx fastcgi_cache's job in a classic stack).
 * Bounded in bytes (least recently used leave first) and in age (--page-cache-ttl). Entries hold the
 * identity body; encoded variants are made once per entry, as for static files.
 */
import { encodeBody, type ContentEncoding } from '../compression.js';

export interface CachedPage {
  key: string;
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
  encoded: Partial<Record<ContentEncoding, Buffer>>;
  storedAt: number;
}

export interface PageCacheOptions {
  ttlMs: number;
  maxBytes: number;
  /** Larger pages are not kept (one page must not push out all others). */
  maxEntryBytes: number;
  now?: () => number;
}

export class PageCache {
  /** Full key (base key + the values of the headers it varies by) → page, in least-recently-used order. */
  private readonly pages = new Map<string, CachedPage>();
  /** Base key → the request headers its response varies by (learned from the last response). */
  private readonly varies = new Map<string, string[]>();
  private bytes = 0;
  private readonly now: () => number;

  constructor(private readonly options: PageCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Larger pages are not kept: callers stop collecting a response past it. */
  get maxEntryBytes(): number {
    return this.options.maxEntryBytes;
  }

  get size(): { pages: number; bytes: number } {
    return { pages: this.pages.size, bytes: this.bytes };
  }

  /** The fresh page for this request, or undefined. `header` reads a request header (joined). */
  get(baseKey: string, header: (name: string) => string): CachedPage | undefined {
    const key = fullKey(baseKey, this.varies.get(baseKey) ?? [], header);
    const page = this.pages.get(key);
    if (!page) return undefined;
    if (this.now() - page.storedAt >= this.options.ttlMs) {
      this.forget(key);
      return undefined;
    }
    this.pages.delete(key); // most recently used goes last
    this.pages.set(key, page);
    return page;
  }

  set(baseKey: string, vary: string[], header: (name: string) => string, page: Omit<CachedPage, 'key' | 'encoded' | 'storedAt'>): void {
    if (page.body.length > this.options.maxEntryBytes) return;
    this.varies.set(baseKey, vary);
    const key = fullKey(baseKey, vary, header);
    this.forget(key);
    const entry: CachedPage = { ...page, key, encoded: {}, storedAt: this.now() };
    this.pages.set(key, entry);
    this.bytes += sizeOf(entry);
    this.evict();
  }

  /** The body in `encoding`, encoded once per entry. */
  encoded(page: CachedPage, encoding: ContentEncoding): Buffer {
    let body = page.encoded[encoding];
    if (!body) {
      body = encodeBody(page.body, encoding);
      page.encoded[encoding] = body;
      // Counted only while the page is still kept (it may have been purged since it was read).
      if (this.pages.get(page.key) === page) {
        this.bytes += body.length;
        this.evict();
      }
    }
    return body;
  }

  /** Content changed: every page may show it (a new post is on the home page, in feeds, archives…). */
  purge(): void {
    this.pages.clear();
    this.varies.clear();
    this.bytes = 0;
  }

  private evict(): void {
    for (const key of this.pages.keys()) {
      if (this.bytes <= this.options.maxBytes) break;
      this.forget(key);
    }
    // The learned Vary lists are tiny, but their number follows the URLs asked for: bound them too.
    if (this.varies.size > 4 * Math.max(this.pages.size, 1024)) this.varies.clear();
  }

  private forget(key: string): void {
    const page = this.pages.get(key);
    if (!page) return;
    this.pages.delete(key);
    this.bytes -= sizeOf(page);
  }
}

function fullKey(baseKey: string, vary: string[], header: (name: string) => string): string {
  return vary.length === 0 ? baseKey : `${baseKey}\n${vary.map((name) => `${name}:${header(name)}`).join('\n')}`;
}

function sizeOf(page: CachedPage): number {
  return page.body.length + (page.encoded.br?.length ?? 0) + (page.encoded.gzip?.length ?? 0) + 512;
}
