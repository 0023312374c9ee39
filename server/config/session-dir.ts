import { preparePrivateDir, type PrivateDir } from './private-dir.js';

/** The host folder PHP keeps session files in: private to this server (they hold logins). */
export type SessionDir = PrivateDir;

/** See preparePrivateDir: a fresh folder per server unless one is configured. */
export function prepareSessionDir(configured: string | undefined): SessionDir {
  return preparePrivateDir(configured, 'sessionDir', 'php-wasm-server-sessions-');
}
