import { request } from 'node:https';

export type Fetcher = (url: string | URL, init?: RequestInit) => Promise<Response>;

/**
 * fetch() over https that trusts `ca` (a test's self-signed certificate) and connects from
 * `localAddress` (another loopback address, so the client is told apart from the proxy).
 * Node's own fetch can do neither without a dispatcher from a package we do not depend on.
 */
export function httpsFetcher(ca: Buffer, localAddress = '127.0.0.1'): Fetcher {
  return async (url, init = {}) => {
    const target = new URL(url);
    const body = init.body === undefined || init.body === null ? undefined : Buffer.from(await new Response(init.body).arrayBuffer());
    const headers = new Headers(init.headers);
    if (init.body instanceof URLSearchParams && !headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded;charset=UTF-8');
    if (body) headers.set('content-length', String(body.length));
    return new Promise<Response>((resolve, reject) => {
      const req = request(target, { method: init.method ?? 'GET', headers: Object.fromEntries(headers), ca, localAddress, signal: init.signal ?? AbortSignal.timeout(60_000) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const responseHeaders = new Headers();
          for (let i = 0; i < res.rawHeaders.length; i += 2) responseHeaders.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
          const status = res.statusCode ?? 0;
          const bodyless = status === 204 || status === 304 || init.method === 'HEAD';
          resolve(new Response(bodyless ? null : Buffer.concat(chunks), { status, headers: responseHeaders }));
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  };
}
