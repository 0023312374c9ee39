/** Loopback helpers: free ports, one-off HTTP requests with timeouts, waiting for a server. */
import { createServer } from 'node:net';
import type { Child } from './children.js';
import { logTail } from './children.js';

export const HOST = '127.0.0.1';

/** A port the OS considers free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

export interface Reply {
  status: number;
  headers: Headers;
  body: string;
  ms: number;
}

/** One request, no redirects followed. */
export async function request(url: string, init: RequestInit = {}, timeoutMs = 60_000): Promise<Reply> {
  const started = performance.now();
  const response = await fetch(url, { redirect: 'manual', ...init, signal: AbortSignal.timeout(timeoutMs) });
  const body = await response.text();
  return { status: response.status, headers: response.headers, body, ms: performance.now() - started };
}

/**
 * Polls url every pollMs until it answers 200. Fails early if the child process exits, and at the
 * deadline; either way the error carries the last status seen and the child's log tail.
 */
export async function waitFor200(url: string, child: Child | Child[], timeoutMs: number, pollMs = 250): Promise<void> {
  const watched = Array.isArray(child) ? child : [child];
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    const dead = watched.find((c) => c.exitCode !== undefined);
    if (dead) throw new Error(`${dead.name} exited (code ${dead.exitCode}) before ${url} answered 200; its log:\n${logTail(dead)}`);
    try {
      const reply = await request(url, {}, Math.max(1000, Math.min(30_000, deadline - Date.now())));
      if (reply.status === 200) return;
      last = `status ${reply.status}${reply.headers.get('location') ? ` -> ${reply.headers.get('location')}` : ''}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  throw new Error(
    `${url} did not answer 200 within ${Math.round(timeoutMs / 1000)} s (last: ${last}); log of ${watched.map((c) => c.name).join(', ')}:\n` +
      watched.map((c) => logTail(c)).join('\n'),
  );
}

/**
 * Seconds from `spawnedAt` (performance.now() just before the spawn) to the first 200 for the home
 * page: what a user waits for after starting the server. Polled every 20 ms, so it adds little.
 */
export async function secondsToFirstPage(baseUrl: string, children: Child[], spawnedAt: number, timeoutMs: number): Promise<number> {
  await waitFor200(`${baseUrl}/`, children, timeoutMs, 20);
  return (performance.now() - spawnedAt) / 1000;
}
