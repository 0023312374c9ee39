import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Runtime } from '../php-wasm/internals.js';
import { isSelfDestination, type SelfRoute } from './self-route.js';
import { connectTarget } from './connect-to.js';

const ECONNREFUSED = 14; // Emscripten's errno for "connection refused"
const KEY_PARAM = 'key';

/**
 * php.wasm reaches the network through a WebSocket relay on 127.0.0.1 that would connect anywhere
 * for anyone (an SSRF hole, and any local user could proxy through it). Here:
 * - only this instance can use its relay: its WebSocket URL carries a random key the relay checks;
 * - a destination outside the allowlist is refused inside PHP's connect(), as a closed port would
 *   refuse it (fsockopen() returns false, "Connection refused"), instead of a socket that never
 *   delivers anything; the relay checks the destination again, in case a connection gets past that.
 * - a connection to the server itself (see self-route.ts) goes to its self-call listener, whatever
 *   the allowlist says; `selfRoute` is read at each connect (the server's port is known only once
 *   it listens, after the workers booted).
 * The relay keeps listening so its port cannot be taken over by another local process.
 */
export function guardNetwork(runtime: Runtime, allow: readonly string[], selfRoute: () => SelfRoute | undefined = () => undefined, connectTo: Readonly<Record<string, string>> = {}): void {
  const key = randomBytes(32).toString('hex');
  const websocket = runtime.websocket as { url: (...args: unknown[]) => string };
  const relayUrl = websocket.url;
  websocket.url = (...args: unknown[]) => `${relayUrl(...args)}&${KEY_PARAM}=${key}`;
  restrictNetwork(runtime.outboundNetworkProxyServer, allow, key, selfRoute, connectTo);
  refuseInGuest(runtime, allow, selfRoute);
}

/**
 * Gates the relay's upgrades: the instance's key, and (unless `*`) an allowed destination. A
 * self-call is readdressed to the self-call listener before the relay connects, and an allowed
 * destination that --connect-to names, to where it says.
 */
export function restrictNetwork(relay: Server, allow: readonly string[], key: string, selfRoute: () => SelfRoute | undefined = () => undefined, connectTo: Readonly<Record<string, string>> = {}): void {
  const expected = Buffer.from(key);
  const upgradeListeners = relay.listeners('upgrade') as Array<(req: IncomingMessage, socket: Duplex, head: Buffer) => void>;
  relay.removeAllListeners('upgrade');
  relay.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'ws://relay');
    const query = url.searchParams;
    const given = Buffer.from(query.get(KEY_PARAM) ?? '');
    const keyed = given.length === expected.length && timingSafeEqual(given, expected);
    const host = query.get('host') ?? '';
    const port = Number(query.get('port'));
    const route = selfRoute();
    const readdress = (to: { host: string; port: number }) => {
      query.set('host', to.host);
      query.set('port', String(to.port));
      req.url = `${url.pathname}${url.search}`;
    };
    if (keyed && isSelfDestination(host, port, route)) {
      readdress({ host: '127.0.0.1', port: route!.targetPort });
    } else if (keyed && isAllowedDestination(host, port, allow)) {
      const target = connectTarget(host, port, connectTo);
      if (target) readdress(target);
    } else {
      socket.destroy();
      return;
    }
    for (const listener of upgradeListeners) listener.call(relay, req, socket, head);
  });
}

/**
 * Emscripten's socket layer creates a "peer" for every outgoing connection; refusing there makes
 * connect() fail with ECONNREFUSED. Its operations object is reachable only through a socket's
 * node, so it is patched when the first socket is created.
 */
function refuseInGuest(runtime: Runtime, allow: readonly string[], selfRoute: () => SelfRoute | undefined): void {
  const { FS } = runtime;
  if (allow.includes('*')) return;
  const createNode = FS.createNode.bind(FS);
  const patched = new WeakSet<object>();
  FS.createNode = (...args: unknown[]) => {
    const node = createNode(...args);
    const ops = node?.mount?.type?.websocket_sock_ops as { createPeer: (sock: unknown, addr: unknown, port: unknown) => unknown } | undefined;
    if (ops && !patched.has(ops)) {
      patched.add(ops);
      const createPeer = ops.createPeer;
      ops.createPeer = (sock: unknown, addr: unknown, port: unknown) => {
        // An object is a connection accepted by a listening socket, not one PHP makes.
        if (typeof addr === 'string' && !isAllowedDestination(addr, Number(port), allow) && !isSelfDestination(addr, Number(port), selfRoute())) throw new FS.ErrnoError(ECONNREFUSED);
        return createPeer(sock, addr, port);
      };
    }
    return node;
  };
}

/**
 * php.wasm's connect() import lets an error from the socket layer escape into wasm (a crash):
 * turned into the negative errno Emscripten's other syscalls return.
 *
 * The JSPI build (Node 24+) answers connect() with a Promise, yet does not mark the import as
 * suspending, so wasm reads the Promise as 0: every connect() "succeeded", a refused destination
 * included (fsockopen() returned a socket, errno 0). There the import is made suspending, so PHP
 * waits for the real result.
 */
export function connectErrorsAsErrno(imports: WebAssembly.Imports): WebAssembly.Imports {
  const env = imports.env as Record<string, WebAssembly.ImportValue>;
  const connect = env.__syscall_connect as ((...args: number[]) => number | Promise<number>) | undefined;
  if (!connect) return imports;
  const Suspending = jspiSuspending(env);
  if (Suspending) {
    const awaitedConnect = async (...args: number[]) => {
      try {
        return await connect(...args);
      } catch (error) {
        return asNegativeErrno(error);
      }
    };
    return { ...imports, env: { ...env, __syscall_connect: new Suspending(awaitedConnect) } };
  }
  const safeConnect = (...args: number[]) => {
    try {
      return connect(...args);
    } catch (error) {
      return asNegativeErrno(error);
    }
  };
  return { ...imports, env: { ...env, __syscall_connect: safeConnect } };
}

function asNegativeErrno(error: unknown): number {
  const errno = (error as { name?: string; errno?: number })?.errno;
  if ((error as { name?: string })?.name === 'ErrnoError' && typeof errno === 'number') return -errno;
  throw error;
}

type SuspendingConstructor = new (fn: (...args: number[]) => Promise<number>) => WebAssembly.ImportValue;

/** WebAssembly.Suspending when these imports come from a JSPI build (some are already wrapped in it). */
function jspiSuspending(env: Record<string, unknown>): SuspendingConstructor | null {
  const Suspending = (WebAssembly as unknown as { Suspending?: SuspendingConstructor }).Suspending;
  if (typeof Suspending !== 'function') return null;
  return Object.values(env).some((value) => value instanceof Suspending) ? Suspending : null;
}

/**
 * php.wasm resolves `localhost` itself before the relay sees the destination, which then arrives as
 * 127.0.0.1: an entry `localhost[:port]` therefore also matches the loopback addresses. (Other names
 * reach the relay as written, so they are matched by name.)
 */
const LOCALHOST_ADDRESSES = ['127.0.0.1', '::1'];

/** `host`, `host:port`, `*.domain` and `*` entries; names compare case-insensitively. */
export function isAllowedDestination(host: string, port: number, allow: readonly string[]): boolean {
  const name = host.toLowerCase().replace(/^\[|\]$/g, '');
  return allow.some((entry) => {
    if (entry === '*') return true;
    const clean = entry.toLowerCase().trim();
    // A bare IPv6 address ("::1", "2001:db8::1") has no port: its last group is not one.
    const [, pattern, entryPort]: (string | undefined)[] = /^[^[\]]*:[^[\]]*:/.test(clean) ? [clean, clean] : /^(.*?)(?::(\d+))?$/.exec(clean)!;
    if (entryPort && Number(entryPort) !== port) return false;
    const bare = pattern!.replace(/^\[|\]$/g, '');
    if (bare === '*') return true; // "*:443": any host, that port only
    if (bare === 'localhost' && LOCALHOST_ADDRESSES.includes(name)) return true;
    return bare.startsWith('*.') ? name.endsWith(bare.slice(1)) : bare !== '' && name === bare;
  });
}
