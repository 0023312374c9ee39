import { chmodSync, lstatSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './coerce.js';

/** A host folder private to this server (sessions, compiled scripts). */
export interface PrivateDir {
  path: string;
  /** Removes the folder when this server made a fresh one; keeps a configured one. */
  dispose(): void;
  /** A configured folder others could read or write until now (made private here): what is in it may be planted. */
  wasShared: boolean;
}

/**
 * Without a setting, every server gets a fresh folder (mkdtemp: random name, 0700), so two servers
 * on one machine never read each other's files and nothing can be planted there in advance.
 * A configured folder is created 0700 if missing; a symlink or a folder of another user is refused
 * (exit 2), and one of ours that others may read is made private.
 */
export function preparePrivateDir(configured: string | undefined, setting: string, tempPrefix: string): PrivateDir {
  if (configured === undefined) {
    const path = mkdtempSync(join(tmpdir(), tempPrefix));
    return { path, dispose: () => rmSync(path, { recursive: true, force: true }), wasShared: false };
  }
  const fail = (allowed: string): never => { throw new ConfigError(setting, allowed, configured, 'settings'); };
  try {
    mkdirSync(configured, { recursive: true, mode: 0o700 });
  } catch (error) {
    fail(`must be a folder the server can create (${(error as Error).message})`);
  }
  const stat = lstatSync(configured);
  if (stat.isSymbolicLink()) fail('must be a real folder, not a symbolic link (another user could point it anywhere)');
  if (!stat.isDirectory()) fail('must be a folder');
  if (process.getuid && stat.uid !== process.getuid()) fail(`must be owned by the server's user (uid ${process.getuid()}, folder's: ${stat.uid})`);
  const wasShared = (stat.mode & 0o077) !== 0;
  if (wasShared) chmodSync(configured, 0o700);
  return { path: configured, dispose: () => {}, wasShared };
}
