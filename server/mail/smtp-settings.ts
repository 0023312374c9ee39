import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/coerce.js';

export const SMTP_PASSWORD_ENV = 'PHP_WASM_SERVER_SMTP_PASSWORD';
export const SMTP_PASSWORD_FILE_ENV = `${SMTP_PASSWORD_ENV}_FILE`;

/** What nodemailer's SMTP transport is created with. */
export interface SmtpTransportSettings {
  host: string;
  port: number;
  /** smtps://: TLS from the first byte. */
  secure: boolean;
  /** Refuse to send unless STARTTLS upgraded the connection (smtp:// only; smtps:// is always TLS). */
  requireTLS: boolean;
  auth?: { user: string; pass: string };
  /** Where the log says mail goes (never with a password). */
  display: string;
}

/**
 * `url`: smtp://[user@]host[:port] (STARTTLS when the relay offers it) or smtps://[user@]host[:port].
 * The password never comes from the URL (a flag shows in /proc/PID/cmdline, a config file gets
 * copied around): only from PHP_WASM_SERVER_SMTP_PASSWORD, or a file named by ..._FILE (a
 * container secret).
 */
export function smtpTransportSettings(url: string, requireTls: boolean, env: Record<string, string | undefined>): SmtpTransportSettings {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('smtp', 'must be a URL: smtp://[user@]host[:port] or smtps://[user@]host[:port]', url, 'settings');
  }
  const secure = parsed.protocol === 'smtps:';
  if (!secure && parsed.protocol !== 'smtp:') {
    throw new ConfigError('smtp', 'must start with smtp:// (STARTTLS) or smtps:// (TLS)', url, 'settings');
  }
  if (parsed.password) {
    throw new ConfigError('smtp', `must not carry a password (it would show in the process list and logs): set ${SMTP_PASSWORD_ENV} or ${SMTP_PASSWORD_FILE_ENV}`, redact(parsed), 'settings');
  }
  if (!parsed.hostname || (parsed.pathname && parsed.pathname !== '/') || parsed.search || parsed.hash) {
    throw new ConfigError('smtp', 'must be just smtp[s]://[user@]host[:port]', url, 'settings');
  }
  const user = decodeURIComponent(parsed.username);
  const pass = readPassword(env);
  if (user && pass === undefined) {
    throw new ConfigError('smtp', `names user ${user}: set ${SMTP_PASSWORD_ENV} or ${SMTP_PASSWORD_FILE_ENV}`, url, 'settings');
  }
  if (!user && pass !== undefined) {
    throw new ConfigError('smtp', `must name a user (smtp://user@host) when ${SMTP_PASSWORD_ENV} is set`, url, 'settings');
  }
  const port = parsed.port ? Number(parsed.port) : secure ? 465 : 587;
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    host,
    port,
    secure,
    requireTLS: requireTls && !secure,
    ...(user ? { auth: { user, pass: pass! } } : {}),
    display: `${parsed.protocol}//${user ? `${encodeURIComponent(user)}@` : ''}${parsed.host}`,
  };
}

function readPassword(env: Record<string, string | undefined>): string | undefined {
  const direct = env[SMTP_PASSWORD_ENV];
  const file = env[SMTP_PASSWORD_FILE_ENV];
  if (direct && file) throw new ConfigError('smtp', `takes its password from ${SMTP_PASSWORD_ENV} or ${SMTP_PASSWORD_FILE_ENV}, not both`, undefined, 'environment');
  if (direct) return direct;
  if (!file) return undefined;
  try {
    // A secret file usually ends with a newline the password does not have.
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    throw new ConfigError('smtp', `password file must be readable (${(error as Error).message})`, file, SMTP_PASSWORD_FILE_ENV);
  }
}

function redact(url: URL): string {
  const copy = new URL(url.href);
  copy.password = '***';
  return copy.href;
}
