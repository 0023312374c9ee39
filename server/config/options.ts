import { availableParallelism } from 'node:os';
import { defineOptions, optionSpecs, type ConfigOf, type OptionSpec } from './schema.js';

export { ENV_PREFIX, type OptionKind, type OptionSpec } from './schema.js';

export const PHP_VERSIONS = ['7.4', '8.0', '8.1', '8.2', '8.3', '8.4', '8.5'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Every setting of the server: one flag, one environment variable and one config-file key each. */
export const SERVER_SCHEMA = defineOptions({
  docroot: { kind: 'path', docs: { arg: 'DIR', default: '`docroot/`', meaning: 'folder served at `/`, mounted in PHP as `/docroot`' } },
  host: { kind: 'string', docs: { arg: 'H', default: '`127.0.0.1`', meaning: 'listen address (`0.0.0.0` in containers)' } },
  port: { kind: 'int', min: 0, max: 65535, docs: { arg: 'N', default: '`8087`', meaning: 'listen port (0 = any free port)' } },
  workers: { kind: 'int', min: 1, max: 64, docs: { arg: 'N', default: 'CPU cores', meaning: 'php.wasm instances, one per worker thread' } },
  php: { kind: 'choice', choices: PHP_VERSIONS, docs: { arg: 'V', default: '`8.5`', meaning: 'PHP version (7.4, 8.0–8.5; 8.5, the newest, renders WordPress pages fastest in php.wasm)' } },
  requestTimeout: {
    kind: 'seconds', min: 0.1, max: 86400,
    docs: { arg: 'S', default: '`30`', meaning: 'a script running longer is stopped (its worker is replaced); the client gets 504' },
  },
  maxBody: {
    kind: 'size', min: 0,
    docs: { arg: 'SIZE', default: '`64M`', meaning: 'largest request body (413 above); `upload_max_filesize` and `post_max_size` follow it' },
  },
  bodyTimeout: {
    kind: 'seconds', min: 1, max: 3600,
    docs: { arg: 'S', default: '`20`', meaning: 'a request body must arrive within this, plus 1 s per `--body-min-rate` bytes received (408 and close; Apache mod_reqtimeout `body=20,MinRate=500`)' },
  },
  bodyMinRate: {
    kind: 'size', min: 1,
    docs: { arg: 'BYTES', default: '`500`', meaning: 'bytes per second that extend the body deadline; a client trickling slower is cut off' },
  },
  queueLimit: {
    kind: 'int', min: 0, max: 100000,
    docs: { arg: 'N', default: '`512`', meaning: 'requests waiting for a worker; past it: 503 + `Retry-After`' },
  },
  queueTimeout: {
    kind: 'seconds', min: 0.1, max: 3600,
    docs: { arg: 'S', default: '`30`', meaning: 'longest wait for a worker; past it: 503 + `Retry-After`' },
  },
  selfCallWorkers: {
    kind: 'int', min: 0, max: 8,
    docs: { arg: 'N', default: '`1`', meaning: 'extra workers, started on demand, for PHP calling this server while every worker is busy (0 = such calls just queue)' },
  },
  maxRequests: {
    kind: 'int', min: 1, max: 1_000_000,
    docs: { arg: 'N', default: '`10000`', meaning: 'requests per worker before it is recycled: reset in place from the warm image (`--worker-resets`), or replaced by a successor that boots first; `--max-worker-memory` recycles on memory' },
  },
  trustProxy: {
    kind: 'list', repeatable: true,
    docs: { arg: 'LIST', default: 'none', meaning: 'proxies (IPs, CIDRs, `loopback`, `uniquelocal`) whose `X-Forwarded-*` are believed' },
  },
  mounts: {
    kind: 'mounts', flag: 'mount', repeatable: true,
    docs: { arg: 'HOST:GUEST[:ro|rw]', default: 'none', meaning: 'extra host folders PHP can see (mod_wasm `WasmMapDir`)' },
  },
  env: {
    kind: 'map', repeatable: true, merge: true,
    docs: { arg: 'NAME=VALUE', default: 'none', meaning: 'the only environment variables PHP sees (mod_wasm `WasmEnv`)' },
  },
  ini: { kind: 'map', repeatable: true, merge: true, docs: { arg: 'KEY=VALUE', default: 'none', meaning: 'php.ini overrides (over `config/php.ini`)' } },
  allowNetwork: {
    kind: 'list', repeatable: true,
    docs: { arg: 'LIST', default: 'none', meaning: 'hosts PHP may connect to: `host`, `host:port`, `*.domain`, `[v6]:port` or `*`' },
  },
  connectTo: {
    kind: 'map', repeatable: true,
    docs: { arg: 'NAME:PORT=HOST:PORT', default: 'none', meaning: "PHP's connections to NAME:PORT go to HOST:PORT instead, once the allowlist has allowed NAME:PORT (curl's `--connect-to`; for tests with a local stand-in for a remote service)" },
  },
  frontController: {
    kind: 'string',
    docs: { arg: 'PATH', default: '`/index.php`', meaning: 'script for paths that do not exist; empty for a plain 404' },
  },
  deny: { kind: 'list', repeatable: true, merge: true, docs: { arg: 'LIST', default: 'none', meaning: 'extra path prefixes never served (403)' } },
  assetExtensions: {
    kind: 'list', repeatable: true,
    docs: { arg: 'LIST', default: 'none', meaning: 'missing files with these extensions get a 404 without running PHP' },
  },
  warmup: {
    kind: 'list', repeatable: true,
    docs: { arg: 'LIST', default: 'none', meaning: 'paths each new worker requests before it takes traffic (fills its opcache); a first worker that visitors already wait for serves them instead' },
  },
  workerImage: {
    kind: 'bool',
    docs: { arg: 'BOOL', default: '`true`', meaning: 'new workers (a recycled one\'s successor, a replacement; not the first ones, which start before it exists) start from a memory image of the first worker that warmed up, instead of starting PHP up and warming up themselves (PHP 8.2 and later, which reseed their random generators in every request); the image (about what that worker\'s memory holds) is a file in a private folder of the system\'s temp folder; with a kept `--opcache-file-cache` folder and `--opcache-validate true` it is kept there (`php.wasm-image/`), and a restarted server\'s first workers start from it too' },
  },
  workerResets: {
    kind: 'int', min: 0, max: 1_000_000,
    docs: { arg: 'N', default: '`10`', meaning: 'times a worker that served `--max-requests` is recycled in place (its PHP memory made the warm image again, in milliseconds) before its thread is replaced too (0 = always replaced; needs `--worker-image`)' },
  },
  statCache: {
    kind: 'seconds', min: 0, max: 3600,
    docs: { arg: 'S', default: '`1`', meaning: 'seconds the router reuses a file-exists answer and small static files stay in memory before a re-check (0 = off)' },
  },
  opcacheValidate: {
    kind: 'bool',
    docs: { arg: 'BOOL', default: '`true`', meaning: 'recompile changed PHP files; `false` is the production switch (faster; edits made outside PHP need a restart)' },
  },
  opcacheFileCache: {
    kind: 'path', optional: true,
    docs: {
      arg: 'DIR',
      default: 'a fresh private folder per server (`wordpress`: `var/opcache`)',
      meaning: 'host folder where the server compiles the site\'s PHP files for opcache\'s file cache, one subfolder per site: a new worker (and, with a kept folder, a restarted server) loads them instead of compiling; PHP can read it, never write it. A kept folder also holds php.wasm\'s optimised machine code (`php.wasm-code/`), which a restarted server loads instead of compiling php.wasm again, and the warm workers\' memory image (`php.wasm-image/`, see `--worker-image`)',
    },
  },
  sessionDir: {
    kind: 'path', optional: true,
    docs: {
      arg: 'DIR',
      default: 'a fresh private folder per server (`wordpress`: `var/sessions`)',
      meaning: 'host folder for PHP sessions, shared by all workers; must be a real folder (no symlink) of the server user, made private (0700)',
    },
  },
  maxWorkerMemory: {
    kind: 'size', min: 0,
    docs: { arg: 'SIZE', default: '`256M`', meaning: 'a worker whose wasm memory grew this much above its warm size is recycled after that request (0 = never)' },
  },
  tmpSize: {
    kind: 'size', min: 1024 * 1024,
    docs: {
      arg: 'SIZE', default: '`128M`',
      meaning: "quota of each worker's in-memory `/tmp` (ENOSPC past it), emptied after every request; at least `--max-body`, since PHP writes uploads there",
    },
  },
  compress: {
    kind: 'bool',
    docs: { arg: 'BOOL', default: '`true`', meaning: 'br or gzip (by `Accept-Encoding`, q-values respected) for PHP output and static text of 1 KB and more' },
  },
  pageCache: {
    kind: 'bool',
    docs: { arg: 'BOOL', default: '`false` (`wordpress`: `true`)', meaning: 'keep anonymous `GET`/`HEAD` pages in memory (no login, commenter, post-password or session cookie, no `Authorization`; not `/wp-admin`, `/wp-login.php`, `/wp-json`, or a query other than tracking parameters); `X-Cache: HIT`/`MISS`' },
  },
  pageCacheTtl: {
    kind: 'seconds', min: 1, max: 86400,
    docs: { arg: 'S', default: '`10`', meaning: 'how long a page is kept; WordPress also empties the cache when content changes (on this server: with several, each keeps its own, and this bounds how stale the others are)' },
  },
  pageCacheSize: {
    kind: 'size', min: 1024 * 1024, max: 4 * 1024 * 1024 * 1024,
    docs: { arg: 'SIZE', default: '`64M`', meaning: 'memory the page cache may hold (least recently used pages leave first; a page above 1/16 of it is not kept)' },
  },
  headerTimeout: {
    kind: 'seconds', min: 1, max: 3600,
    docs: { arg: 'S', default: '`60`', meaning: 'a client must send its whole request head within this (408 and close; nginx `client_header_timeout`)' },
  },
  keepAliveTimeout: {
    kind: 'seconds', flag: 'keepalive-timeout', min: 1, max: 3600,
    docs: { arg: 'S', default: '`75`', meaning: 'idle keep-alive connections close after this (nginx `keepalive_timeout`)' },
  },
  sendTimeout: {
    kind: 'seconds', min: 1, max: 3600,
    docs: { arg: 'S', default: '`60`', meaning: 'a client that takes none of a response for this long while PHP waits on it is cut off, and PHP sees an aborted connection (nginx `send_timeout`)' },
  },
  maxHeaderSize: {
    kind: 'size', min: 1024, max: 1024 * 1024,
    docs: { arg: 'SIZE', default: '`16K`', meaning: "largest request head, all headers together (431 above); room for WordPress's cookies" },
  },
  maxRequestsPerConnection: {
    kind: 'int', min: 0, max: 1000000,
    docs: { arg: 'N', default: '`1000`', meaning: 'requests one keep-alive connection carries, then it closes (nginx `keepalive_requests`; 0 = no limit)' },
  },
  adminPort: {
    kind: 'int', min: 0, max: 65535, optional: true,
    docs: { arg: 'N', default: 'off', meaning: 'admin listener: `/healthz`, `/readyz`, `/metrics` (0 = any free port); never on the public port' },
  },
  adminHost: {
    kind: 'string',
    docs: { arg: 'H', default: '`127.0.0.1`', meaning: 'admin listen address (`0.0.0.0` in a container or pod, so probes reach it)' },
  },
  smtp: {
    kind: 'string', optional: true,
    docs: {
      arg: 'URL', default: 'off (`mail()` logs a warning and returns false)',
      meaning: '`smtp://[user@]host[:port]` (STARTTLS when offered) or `smtps://…`: the relay `mail()` and `wp_mail()` send through; the password only from `PHP_WASM_SERVER_SMTP_PASSWORD` or a file named by `PHP_WASM_SERVER_SMTP_PASSWORD_FILE`',
    },
  },
  smtpRequireTls: {
    kind: 'bool', flag: 'smtp-require-tls',
    docs: { arg: 'BOOL', default: '`false`', meaning: 'with `smtp://`: send only after STARTTLS (a relay that does not offer it gets no mail)' },
  },
  smtpMaxPerHour: {
    kind: 'int', min: 1, max: 1000000,
    docs: { arg: 'N', default: '`100`', meaning: 'recipients per hour, all mail together (a hostile script cannot make the server a spam relay); past it `mail()` returns false' },
  },
  logLevel: { kind: 'choice', choices: LOG_LEVELS, docs: { arg: 'L', default: '`info`', meaning: '`fatal` … `trace`, `silent`' } },
  config: { kind: 'path', optional: true, docs: { arg: 'FILE', default: 'none', meaning: 'JSON config file', noConfigKey: true } },
});

/** The server's settings, derived from SERVER_SCHEMA. */
export type ServerSettings = ConfigOf<typeof SERVER_SCHEMA>;

export const OPTIONS: readonly OptionSpec[] = optionSpecs(SERVER_SCHEMA);

export function defaultWorkerCount(): number {
  return Math.max(1, availableParallelism());
}
