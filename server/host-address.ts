/** Host names and addresses as they appear in URLs and Host headers. */

/** An IPv6 literal needs brackets in a URL or Host header (`[::1]:8087`); names and IPv4 do not. */
export function bracketIPv6(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** A wildcard listen address accepts connections but cannot be connected to: use loopback instead. */
export function connectableHost(listenHost: string): string {
  if (listenHost === '' || listenHost === '0.0.0.0') return '127.0.0.1';
  if (listenHost === '::') return '[::1]';
  return bracketIPv6(listenHost);
}

/** Wildcard and loopback listeners are reached by visitors on this machine as `localhost`. */
export function isLocalListenHost(listenHost: string): boolean {
  return ['', '0.0.0.0', '::', '::1', '127.0.0.1', 'localhost'].includes(listenHost);
}
