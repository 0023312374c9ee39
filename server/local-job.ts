import { toCgi, type PhpJob } from './cgi.js';
import type { ServerConfig } from './config/types.js';
import type { DocrootView } from './routing.js';
import { resolveRequest, routeOptionsFrom } from './routing.js';
import { GUEST_DOCROOT } from './paths.js';
import { bracketIPv6 } from './host-address.js';
import { SERVER_SOFTWARE } from './version.js';

/**
 * A GET the server sends itself (worker warm-up, WP-Cron), shaped exactly like a visitor's from
 * 127.0.0.1, so PHP cannot tell the difference. Null when the path does not lead to a PHP script.
 */
export function localPhpJob(config: ServerConfig, view: DocrootView, rawUrl: string, port = config.port): PhpJob | null {
  const target = resolveRequest(rawUrl, view, routeOptionsFrom(config));
  if (target.type !== 'php') return null;
  const host = ['0.0.0.0', '::'].includes(config.host) ? 'localhost' : bracketIPv6(config.host);
  return toCgi({
    method: 'GET',
    rawUrl,
    httpVersion: '1.1',
    headers: { host: [`${host}:${port}`], 'user-agent': [SERVER_SOFTWARE] },
    peerAddress: '127.0.0.1',
    peerPort: 0,
    localAddress: '127.0.0.1',
    localPort: port,
    tls: false,
    fromTrustedProxy: false,
    clientAddress: '127.0.0.1',
    bodyLength: null,
  }, target, { serverSoftware: SERVER_SOFTWARE, documentRoot: GUEST_DOCROOT });
}
