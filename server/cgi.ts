/**
 * CGI/1.1 (RFC 3875) in both directions, as pure functions: request → meta-variables for PHP,
 * and PHP's CGI-style response headers → HTTP status and headers.
 */
import { bracketIPv6 } from './host-address.js';

export interface CgiRequest {
  method: string;
  /** The request target exactly as sent (path and query). */
  rawUrl: string;
  httpVersion: string;
  /** Every header, lower-case names, all values (Node's `headersDistinct`). */
  headers: Record<string, string[] | undefined>;
  peerAddress: string;
  peerPort: number;
  localAddress: string;
  localPort: number;
  tls: boolean;
  /** The peer is a configured trusted proxy, so X-Forwarded-* are believed. */
  fromTrustedProxy: boolean;
  /** The client address after walking X-Forwarded-For back through trusted proxies. */
  clientAddress: string;
  /** Body size in bytes; null when the request has no body. */
  bodyLength: number | null;
}

export interface ScriptTarget {
  /** Docroot-relative path of the script, e.g. 'wp-admin/index.php'. */
  relPath: string;
  /** URL path of the script, e.g. '/wp-admin/index.php'. */
  scriptName: string;
  /** Decoded extra path after the script, e.g. '/extra', or ''. */
  pathInfo: string;
}

export interface CgiContext {
  serverSoftware: string;
  /** Where PHP sees the docroot, e.g. '/docroot'. */
  documentRoot: string;
}

/** Everything a worker needs to run the script. */
export interface PhpJob {
  scriptPath: string;
  relativeUri: string;
  method: string;
  protocol: 'http' | 'https';
  /** The few headers php.wasm reads itself (host, cookie, content-type). */
  headers: Record<string, string>;
  server: Record<string, string>;
}

export function toCgi(request: CgiRequest, target: ScriptTarget, context: CgiContext): PhpJob {
  const headers = carriableHeaders(request.headers);
  const header = (name: string) => headers[name];
  // The entry the nearest (trusted) proxy added is the last one; earlier ones may be the client's
  // own, passed through by a proxy that appends (as Fastify reads them too).
  const proxied = (name: string) => header(name)?.at(-1)?.split(',').at(-1)?.trim() || undefined;

  const forwarded = request.fromTrustedProxy;
  const forwardedProto = forwarded ? proxied('x-forwarded-proto')?.toLowerCase() : undefined;
  const https = forwardedProto ? forwardedProto === 'https' : request.tls;
  const scheme = https ? 'https' : 'http';
  const givenHost = (forwarded && proxied('x-forwarded-host')) || header('host')?.[0] || hostWithPort(request.localAddress, request.localPort);
  const { name: serverName, port: hostPort } = splitHost(givenHost);
  const forwardedPort = forwarded ? Number(proxied('x-forwarded-port')) || hostPort || (forwardedProto ? (https ? 443 : 80) : undefined) : undefined;
  // A proxy passing nginx's $host drops the port the visitor used: put the forwarded port back,
  // or an app comparing its own URL with the request (WordPress's canonical redirect) loops.
  const host = forwardedPort && hostPort === undefined && forwardedPort !== (https ? 443 : 80) ? `${givenHost}:${forwardedPort}` : givenHost;

  const rawUrl = encodeControls(request.rawUrl);
  const queryAt = rawUrl.indexOf('?');
  const server: Record<string, string> = {
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_SOFTWARE: context.serverSoftware,
    SERVER_PROTOCOL: `HTTP/${request.httpVersion}`,
    SERVER_NAME: serverName,
    SERVER_ADDR: request.localAddress,
    SERVER_PORT: String(forwardedPort ?? request.localPort),
    REQUEST_METHOD: request.method,
    REQUEST_URI: rawUrl,
    QUERY_STRING: queryAt === -1 ? '' : rawUrl.slice(queryAt + 1),
    REQUEST_SCHEME: scheme,
    DOCUMENT_ROOT: context.documentRoot,
    SCRIPT_NAME: target.scriptName,
    SCRIPT_FILENAME: `${context.documentRoot}/${target.relPath}`,
    PHP_SELF: target.scriptName + target.pathInfo,
    REMOTE_ADDR: forwarded ? request.clientAddress : request.peerAddress,
    REMOTE_PORT: String(request.peerPort),
    REDIRECT_STATUS: '200',
  };
  if (target.pathInfo) {
    server.PATH_INFO = target.pathInfo;
    server.PATH_TRANSLATED = context.documentRoot + target.pathInfo;
  }
  if (https) server.HTTPS = 'on';
  if (request.bodyLength !== null) server.CONTENT_LENGTH = String(request.bodyLength);
  const contentType = header('content-type')?.[0];
  if (contentType) server.CONTENT_TYPE = contentType;

  for (const [name, values] of Object.entries(headers)) {
    if (!values || name === 'content-type' || name === 'content-length') continue;
    // httpoxy: a client's "Proxy:" header must never become HTTP_PROXY (read as an outbound proxy).
    if (name === 'proxy') continue;
    // "X-Foo_Bar" and "X-Foo-Bar" would both become HTTP_X_FOO_BAR: drop the underscore form (as nginx, Apache do).
    if (!/^[a-z0-9-]+$/.test(name)) continue;
    server['HTTP_' + name.toUpperCase().replace(/-/g, '_')] = values.join(name === 'cookie' ? '; ' : ', ');
  }
  server.HTTP_HOST = host;

  const phpHeaders: Record<string, string> = { host };
  if (server.HTTP_COOKIE) phpHeaders.cookie = server.HTTP_COOKIE;
  if (contentType) phpHeaders['content-type'] = contentType;

  return {
    scriptPath: server.SCRIPT_FILENAME,
    relativeUri: rawUrl,
    method: request.method,
    protocol: scheme,
    headers: phpHeaders,
    server,
  };
}

/**
 * The header values HTTP can carry (RFC 9110 §5.5). Node's parser refuses the others already; this
 * keeps a CR or LF from reaching PHP whoever builds the request (PHP would pass it on in mail()
 * headers, logs, or a header it echoes back).
 */
function carriableHeaders(headers: Record<string, string[] | undefined>): Record<string, string[] | undefined> {
  const kept: Record<string, string[] | undefined> = Object.create(null);
  for (const [name, values] of Object.entries(headers)) {
    const carriable = values?.filter((value) => !FORBIDDEN_IN_VALUE.test(value));
    if (carriable?.length) kept[name] = carriable;
  }
  return kept;
}

/** Control characters are not URL characters: PHP gets them percent-encoded, as a browser would send them. */
function encodeControls(url: string): string {
  return url.replace(/[\x00-\x1f\x7f]/g, (char) => '%' + char.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
}

function hostWithPort(address: string, port: number): string {
  return `${bracketIPv6(address)}:${port}`;
}

/** "example.com:8080" → name and port; "[::1]:8080" keeps the brackets in the name, as Apache does. */
export function splitHost(host: string): { name: string; port?: number } {
  // RFC 7230 allows an empty port ("example.com:"): it must not end up in SERVER_NAME.
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(host.trim());
  if (!match) return { name: host };
  return { name: match[1].toLowerCase(), port: match[2] ? Number(match[2]) : undefined };
}

export interface HttpHead {
  status: number;
  /** No prototype: a name such as __proto__ or constructor is data here, never an object's slot. */
  headers: Record<string, string | string[]>;
  /** Headers PHP sent that HTTP cannot carry (bad name or bytes): dropped, for the log. */
  dropped: string[];
}

/** RFC 9110 token: what a header name may be. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Bytes a field value may not hold (RFC 9110 §5.5): controls other than tab, and DEL. */
const FORBIDDEN_IN_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
/**
 * Names that are valid tokens but that Fastify keeps as keys of a plain object, where they
 * would change the object instead of adding a header. No real header has them.
 */
const OBJECT_SLOTS = new Set(['__proto__']);

/**
 * A value as the bytes PHP sent: php.wasm hands them over decoded as UTF-8, and Node writes header
 * strings one byte per character, so non-ASCII text goes back to its UTF-8 bytes.
 */
function asHeaderBytes(value: string): string {
  return /[^\x00-\x7f]/.test(value) ? Buffer.from(value, 'utf8').toString('latin1') : value;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

/** PHP's response head as CGI defines it: `Status:` sets the code, `Location` alone means 302. */
export function fromCgi(phpStatus: number, phpHeaders: Record<string, string[]>): HttpHead {
  let status = phpStatus >= 200 && phpStatus <= 599 ? phpStatus : 200;
  const headers: Record<string, string | string[]> = Object.create(null);
  const dropped: string[] = [];
  let explicitStatus = false;
  for (const [rawName, rawValues] of Object.entries(phpHeaders)) {
    const name = rawName.toLowerCase();
    if (!TOKEN.test(name) || OBJECT_SLOTS.has(name)) {
      dropped.push(rawName);
      continue;
    }
    const values = rawValues.map(asHeaderBytes);
    if (values.some((value) => FORBIDDEN_IN_VALUE.test(value))) {
      dropped.push(rawName);
      continue;
    }
    if (name === 'status') {
      const code = parseInt(values[values.length - 1], 10);
      // 1xx would leave the client waiting for a final response; above 599 is not HTTP.
      if (code >= 200 && code <= 599) {
        status = code;
        explicitStatus = true;
      }
      continue;
    }
    if (HOP_BY_HOP.has(name)) continue;
    headers[name] = name === 'set-cookie' ? values : values.length === 1 ? values[0] : values.join(', ');
  }
  if (headers.location && !explicitStatus && (status < 300 || status > 399) && status !== 201) status = 302;
  return { status, headers, dropped };
}
