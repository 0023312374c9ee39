/**
 * Self-calls: PHP connecting to the server that runs it (WordPress's loopback and REST checks, its
 * file editor's fatal-error check, a PHP app fetching its own pages). The relay sends such a
 * connection to the server's self-call listener instead of where it was addressed, so it needs no
 * allowlist entry, opens no other destination, and the pool can tell it from a visitor's request
 * (a self-call must not wait behind the very request that made it).
 */
import { networkInterfaces } from 'node:os';

export interface SelfRoute {
  /** `host:port` (lower case, IPv6 without brackets) that mean this server. */
  destinations: string[];
  /** The loopback port of the self-call listener. */
  targetPort: number;
}

const LOOPBACK = ['127.0.0.1', '::1', 'localhost'];
const WILDCARD = ['', '0.0.0.0', '::'];

/**
 * What means "this server" to PHP: the loopback addresses (php.wasm turns `localhost` into 127.0.0.1
 * itself) at the port it listens on, the address it listens on (every local interface for a
 * wildcard), and the site URL's host and port when that URL is plain HTTP (an HTTPS one is TLS,
 * which only the proxy in front of the server speaks).
 */
export function selfDestinations(listenHost: string, port: number, siteUrl: string | undefined, interfaceAddresses: string[] = localAddresses()): string[] {
  const hosts = new Set(LOOPBACK);
  const listen = bare(listenHost);
  if (WILDCARD.includes(listen)) for (const address of interfaceAddresses) hosts.add(bare(address));
  else hosts.add(listen);
  const destinations = [...hosts].map((host) => `${host}:${port}`);
  const site = siteUrl ? new URL(siteUrl) : undefined;
  if (site?.protocol === 'http:') destinations.push(`${bare(site.hostname)}:${site.port || 80}`);
  return [...new Set(destinations)];
}

/** Whether PHP connecting to host:port means this server. */
export function isSelfDestination(host: string, port: number, route: SelfRoute | undefined): boolean {
  return !!route && route.destinations.includes(`${bare(host)}:${port}`);
}

function bare(host: string): string {
  return host.toLowerCase().replace(/^\[|\]$/g, '');
}

function localAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((entries) => (entries ?? []).map((entry) => entry.address));
}
