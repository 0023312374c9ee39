import { statSync } from 'node:fs';
import proxyAddr from 'proxy-addr';
import { ConfigError } from './coerce.js';
import type { ServerConfig } from './types.js';
import { smtpTransportSettings } from '../mail/smtp-settings.js';
import { parseHostPort } from '../sandbox/connect-to.js';
import { overlappingFolder } from '../opcache-file-cache/cache-folder.js';

/**
 * Checks what parsing alone cannot: values that must name something real. Run before anything
 * boots, so a typo is one line and exit code 2, not a stack trace from a worker.
 */
export function validateSettings(config: ServerConfig, env: Record<string, string | undefined> = process.env): void {
  try {
    proxyAddr.compile(config.trustProxy);
  } catch (error) {
    throw new ConfigError('trustProxy', `must be IPs, CIDRs, loopback, linklocal or uniquelocal (${(error as Error).message})`, config.trustProxy, 'settings');
  }
  // PHP writes an upload to /tmp before the script runs: a quota below the largest body refuses it.
  if (config.tmpSize < config.maxBody) {
    throw new ConfigError('tmpSize', `must be at least maxBody (${config.maxBody} bytes), since uploads are written to /tmp`, config.tmpSize, 'settings');
  }
  // The URL's form, and a password where one is needed (read from the environment, never a flag).
  if (config.smtp !== undefined) smtpTransportSettings(config.smtp, config.smtpRequireTls, env);
  for (const [from, to] of Object.entries(config.connectTo)) {
    if (!parseHostPort(from)) throw new ConfigError('connectTo', 'each entry must be NAME:PORT=HOST:PORT', from, 'settings');
    if (!parseHostPort(to)) throw new ConfigError('connectTo', 'each entry must be NAME:PORT=HOST:PORT', to, 'settings');
  }
  for (const mount of config.mounts) {
    if (!isDirectory(mount.host)) throw new ConfigError('mounts', 'HOST must be an existing directory', mount.host, 'settings');
  }
  refuseWritableCodeFolder(config);
}

/**
 * The kept opcache folder holds compiled scripts every worker runs and php.wasm's machine code the
 * server itself runs (see wasm-code-cache/): PHP must not reach it. Checked here, so a reload that
 * mounts it (or a folder above it) is refused as a start would be.
 */
function refuseWritableCodeFolder(config: ServerConfig): void {
  if (config.opcacheFileCache === undefined) return;
  const phpFolders = [config.docroot, ...config.mounts.map((mount) => mount.host), ...(config.sessionDir === undefined ? [] : [config.sessionDir])];
  const folder = overlappingFolder(config.opcacheFileCache, phpFolders);
  if (folder !== undefined) {
    throw new ConfigError('opcacheFileCache', `must be outside the docroot, every mount and the session folder, and hold none of them (PHP could plant compiled code there): overlaps ${folder}`, config.opcacheFileCache, 'settings');
  }
}

export function requireDirectory(path: string, key: string): void {
  if (!isDirectory(path)) throw new ConfigError(key, 'must be an existing directory', path, 'settings');
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
