import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * php.wasm reaches the network through a WebSocket relay on 127.0.0.1 that would connect anywhere
 * (an SSRF hole). Every relay connection passes through this gate; with no allowlist nothing passes.
 * The relay keeps listening so its port cannot be taken over by another local process.
 */
export function restrictNetwork(relay: Server, allow: readonly string[]): void {
  if (allow.includes('*')) return;
  const upgradeListeners = relay.listeners('upgrade') as Array<(req: IncomingMessage, socket: Duplex, head: Buffer) => void>;
  relay.removeAllListeners('upgrade');
  relay.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const query = new URL(req.url ?? '/', 'ws://relay').searchParams;
    if (!isAllowedDestination(query.get('host') ?? '', Number(query.get('port')), allow)) {
      socket.destroy();
      return;
    }
    for (const listener of upgradeListeners) listener.call(relay, req, socket, head);
  });
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
