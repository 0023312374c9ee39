import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the mirror answers for a path: bytes, or bytes cut off halfway (the connection dropped). */
export type MirrorEntry = Buffer | string | { cutAfter: number; body: Buffer } | { unsized: Buffer };

export interface Mirror {
  url: string;
  /** Paths asked for, in order. */
  requests: string[];
  files: Map<string, MirrorEntry>;
  close(): Promise<void>;
}

/** A local stand-in for wordpress.org's download paths; anything not in `files` is a 404. */
export async function startMirror(files: Record<string, MirrorEntry>): Promise<Mirror> {
  const entries = new Map(Object.entries(files));
  const requests: string[] = [];
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://mirror').pathname;
    requests.push(path);
    const entry = entries.get(path);
    if (entry === undefined) return void response.writeHead(404).end();
    if (typeof entry === 'object' && 'cutAfter' in entry) {
      response.writeHead(200, { 'content-length': String(entry.body.length) });
      response.write(entry.body.subarray(0, entry.cutAfter), () => response.socket?.destroy());
      return;
    }
    if (typeof entry === 'object' && 'unsized' in entry) {
      response.writeHead(200); // chunked: no Content-Length to judge it by
      return void response.end(entry.unsized);
    }
    const body = Buffer.from(entry);
    response.writeHead(200, { 'content-length': String(body.length) }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    files: entries,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
