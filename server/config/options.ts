import { availableParallelism } from 'node:os';

/** How a raw value (a flag or env string, or a JSON value from the config file) is read. */
export type OptionKind =
  | 'string' | 'path' | 'int' | 'seconds' | 'size' | 'bool' | 'choice'
  | 'list' | 'map' | 'mounts';

export interface OptionSpec {
  key: string;
  flag: string;
  env: string;
  kind: OptionKind;
  describe: string;
  min?: number;
  max?: number;
  choices?: readonly string[];
  /** May be given more than once on the command line (`--env A=1 --env B=2`). */
  repeatable?: boolean;
  /** Higher layers add to the value (maps key by key, lists by union) instead of replacing it. */
  merge?: boolean;
}

export const ENV_PREFIX = 'PHP_WASM_SERVER_';
export const PHP_VERSIONS = ['7.4', '8.0', '8.1', '8.2', '8.3', '8.4', '8.5'] as const;

const spec = (key: string, flag: string, kind: OptionKind, describe: string, extra: Partial<OptionSpec> = {}): OptionSpec => ({
  key, flag, kind, describe,
  env: ENV_PREFIX + flag.toUpperCase().replace(/-/g, '_'),
  ...extra,
});

/** Every setting: one flag, one environment variable and one config-file key each (README lists them). */
export const OPTIONS: readonly OptionSpec[] = [
  spec('docroot', 'docroot', 'path', 'Folder served at / and mounted in PHP as /docroot'),
  spec('host', 'host', 'string', 'Address to listen on'),
  spec('port', 'port', 'int', 'TCP port to listen on (0 = any free port)', { min: 0, max: 65535 }),
  spec('workers', 'workers', 'int', 'php.wasm instances, one per worker thread', { min: 1, max: 64 }),
  spec('php', 'php', 'choice', 'PHP version', { choices: PHP_VERSIONS }),
  spec('requestTimeout', 'request-timeout', 'seconds', 'A script running longer is stopped; the client gets 504', { min: 0.1, max: 86400 }),
  spec('maxBody', 'max-body', 'size', 'Largest request body (413 above); PHP upload limits follow it', { min: 0 }),
  spec('queueLimit', 'queue-limit', 'int', 'Requests waiting for a worker before new ones get 503', { min: 0, max: 100000 }),
  spec('queueTimeout', 'queue-timeout', 'seconds', 'Longest wait for a worker before 503', { min: 0.1, max: 3600 }),
  spec('maxRequests', 'max-requests', 'int', 'Requests a worker serves before it is replaced (php.wasm aborts near 2046)', { min: 1, max: 1800 }),
  spec('trustProxy', 'trust-proxy', 'list', 'Proxies (IPs, CIDRs, loopback, uniquelocal) whose X-Forwarded-* headers are believed', { repeatable: true }),
  spec('mounts', 'mount', 'mounts', 'Extra host folders visible to PHP: HOST:GUEST[:ro|rw]', { repeatable: true }),
  spec('env', 'env', 'map', 'Environment variables PHP can see: NAME=VALUE', { repeatable: true, merge: true }),
  spec('ini', 'ini', 'map', 'php.ini overrides: KEY=VALUE', { repeatable: true, merge: true }),
  spec('allowNetwork', 'allow-network', 'list', 'Hosts PHP may connect to (host, host:port or *); none by default', { repeatable: true }),
  spec('frontController', 'front-controller', 'string', 'Script for paths that do not exist (empty: plain 404)'),
  spec('deny', 'deny', 'list', 'Extra URL path prefixes that are never served (403)', { repeatable: true, merge: true }),
  spec('assetExtensions', 'asset-extensions', 'list', 'Missing files with these extensions get a plain 404 instead of the front controller', { repeatable: true }),
  spec('warmup', 'warmup', 'list', 'URL paths each new worker requests before it takes traffic', { repeatable: true }),
  spec('statCache', 'stat-cache', 'seconds', 'How long the router reuses a file-exists answer (0 = ask every time)', { min: 0, max: 3600 }),
  spec('opcacheValidate', 'opcache-validate', 'bool', 'Recompile PHP files that changed (turn off in production for speed)'),
  spec('sessionDir', 'session-dir', 'path', 'Host folder for PHP sessions, shared by all workers'),
  spec('compress', 'compress', 'bool', 'Compress responses (br, gzip) for clients that accept it'),
  spec('headerTimeout', 'header-timeout', 'seconds', 'Longest time a client may take to send its request headers (nginx client_header_timeout)', { min: 1, max: 3600 }),
  spec('keepAliveTimeout', 'keepalive-timeout', 'seconds', 'How long an idle keep-alive connection stays open (nginx keepalive_timeout)', { min: 1, max: 3600 }),
  spec('maxHeaderSize', 'max-header-size', 'size', 'Largest request head (request line and all headers); 431 above', { min: 1024, max: 1024 * 1024 }),
  spec('maxRequestsPerConnection', 'max-requests-per-connection', 'int', 'Requests one keep-alive connection may carry before it is closed (0 = no limit)', { min: 0, max: 1000000 }),
  spec('adminPort', 'admin-port', 'int', 'Port of the admin listener (/healthz, /readyz, /metrics); off unless set (0 = any free port)', { min: 0, max: 65535 }),
  spec('adminHost', 'admin-host', 'string', 'Address of the admin listener (0.0.0.0 in a container or pod so probes reach it)'),
  spec('logLevel', 'log-level', 'choice', 'Log level', { choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] }),
  spec('config', 'config', 'path', 'JSON config file (flags > environment > this file > defaults)'),
];

export function defaultWorkerCount(): number {
  return Math.max(1, availableParallelism());
}
