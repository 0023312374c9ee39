import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './paths.js';
import { parseSize, toIniSize } from './config/size.js';
import type { ServerConfig } from './config/types.js';

export const GUEST_SESSION_DIR = '/var/lib/php/sessions';
/** Runs before every script: undoes what php.wasm adds that CGI does not have (HTTPS=off). */
export const GUEST_PREPEND = '/internal/shared/cgi-prepend.php';

/**
 * No subprocesses in the sandbox: the functions whose only purpose is to run one are removed, so
 * scripts can test function_exists(). mail() stays (WordPress calls it unguarded) and fails via
 * the refusing spawn handler (sandbox/no-subprocesses.ts).
 */
const DISABLED_FUNCTIONS = ['exec', 'shell_exec', 'system', 'passthru', 'popen', 'proc_open', 'pcntl_exec', 'pcntl_fork'];

/**
 * Fibers need C stack switching that php.wasm's builds lack: `new Fiber()` aborted the whole
 * instance ("missing function"). Disabled, a script gets an ordinary PHP error instead. PHP 8.5
 * removed disable_classes: there, a stack size below PHP's minimum makes Fiber::start() throw an
 * Exception before it allocates anything. A script that raises it gets a fatal error instead
 * (sandbox/fiber-start-fatal.ts), which leaks the stack it asked for until the worker is recycled.
 */
const DISABLED_CLASSES = ['Fiber'];
const FIBER_STACK_SIZE = '1';

/**
 * Settings no override may change: dl() would load a shared object through Node's own fs, outside
 * the filesystem PHP is given.
 */
const SANDBOX_INI: Record<string, string> = { enable_dl: '0' };

/**
 * config/php.ini, then what the server derives from its settings, then the user's overrides.
 * `opcacheFileCache`: the guest folder of compiled scripts the server's workers get (not the `php` command's).
 */
export function buildPhpIni(config: ServerConfig, { opcacheFileCache }: { opcacheFileCache?: string } = {}): string {
  const base = readFileSync(join(projectRoot, 'config', 'php.ini'), 'utf8');
  const derived: Record<string, string> = {
    upload_max_filesize: toIniSize(config.maxBody),
    post_max_size: toIniSize(config.maxBody),
    'session.save_path': GUEST_SESSION_DIR,
    'opcache.validate_timestamps': config.opcacheValidate ? '1' : '0',
    disable_functions: DISABLED_FUNCTIONS.join(','),
    disable_classes: DISABLED_CLASSES.join(','),
    'fiber.stack_size': FIBER_STACK_SIZE,
    auto_prepend_file: GUEST_PREPEND,
    ...(opcacheFileCache ? { 'opcache.file_cache': opcacheFileCache } : {}),
  };
  const { auto_prepend_file: _userPrepend, ...overrides } = config.ini; // chained from our prepend instead
  // The sandbox's lists are a floor: a user's list adds to them rather than re-enabling anything.
  for (const key of ['disable_functions', 'disable_classes'] as const) {
    if (overrides[key] !== undefined) overrides[key] = [derived[key], overrides[key]].filter(Boolean).join(',');
  }
  const lines = Object.entries({ ...derived, ...overrides, ...SANDBOX_INI }).map(([key, value]) => `${key} = ${iniValue(value)}`);
  return `${base}\n; derived from the server settings and overrides\n${lines.join('\n')}\n`;
}

/**
 * Where PHP reaches this server directly (see http/self-calls.ts): a URL on the self-call listener,
 * and the token that makes X-Forwarded-* on such a call believed (a WordPress behind a TLS proxy
 * calls itself as https://… through it; see wordpress/start.ts).
 */
export interface SelfCallConstants {
  url: string;
  token: string;
}

export function buildPrepend(config: ServerConfig, selfCall?: SelfCallConstants): string {
  const userPrepend = config.ini.auto_prepend_file;
  return [
    '<?php',
    "if (($_SERVER['HTTPS'] ?? null) === 'off') { unset($_SERVER['HTTPS']); }",
    selfCall ? `define('PHP_WASM_SERVER_SELF_CALL_URL', '${selfCall.url}'); define('PHP_WASM_SERVER_SELF_CALL_TOKEN', '${selfCall.token}');` : '',
    config.extraPrepend ?? '',
    userPrepend ? `require '${userPrepend.replace(/[\\']/g, (c) => '\\' + c)}';` : '',
  ].join('\n');
}

/**
 * Plain tokens and php.ini expressions (E_ALL & ~E_DEPRECATED: constants only work unquoted) are
 * written bare; anything else is quoted so spaces and ini syntax characters stay literal.
 */
function iniValue(value: string): string {
  const bare = /^[\w./-]+$/.test(value) || /^[A-Z0-9_\s|&~^!()]+$/.test(value);
  return bare ? value : `"${value.replace(/"/g, '\\"')}"`;
}

/** Room above memory_limit for what PHP allocates outside its own accounting (and allocator slack). */
const MEMORY_CEILING_HEADROOM = 64 * 1024 * 1024;

/**
 * How far a worker's wasm memory may grow past its booted size: the effective memory_limit (an
 * override, else config/php.ini) plus headroom; null when memory_limit is -1 (no limit wanted).
 */
export function memoryCeilingBytes(config: ServerConfig): number | null {
  const base = readFileSync(join(projectRoot, 'config', 'php.ini'), 'utf8');
  const fromFile = /^\s*memory_limit\s*=\s*"?([^"\s;]+)/m.exec(base)?.[1];
  const value = config.ini.memory_limit ?? fromFile ?? '128M';
  if (value.trim() === '-1') return null;
  const bytes = parseSize(value);
  return bytes === null ? null : bytes + MEMORY_CEILING_HEADROOM;
}
