import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningServer } from '../../server/server.js';
import { projectRoot } from '../../server/paths.js';
import type { WordPressConfig } from '../../server/wordpress/options.js';
import { loadWordPressConfig, startWordPress } from '../../server/wordpress/start.js';
import { CookieClient } from './browser-like-client.js';
import { captureLogger } from './server.js';

export interface TestWordPress extends RunningServer {
  config: WordPressConfig;
  logs: Array<Record<string, unknown>>;
}

/**
 * WordPress exactly as `php-wasm-server wordpress` serves it (preset, assembly, cron), in a
 * folder of the test's own, on a free port; logs captured. `dir` is assembled on first use.
 */
export async function startTestWordPress(dataDir: string, overrides: Partial<WordPressConfig> = {}): Promise<TestWordPress> {
  const { config: preset } = loadWordPressConfig([], {}, projectRoot);
  mkdirSync(join(dataDir, 'sessions'), { recursive: true });
  const config: WordPressConfig = {
    ...preset,
    dir: join(dataDir, 'wordpress'),
    sessionDir: join(dataDir, 'sessions'),
    // The test's own, not the checkout's var/opcache (which would keep every test site's scripts).
    opcacheFileCache: join(dataDir, 'opcache'),
    port: 0,
    workers: 2,
    // Deterministic and offline: the bundled build, and no attempt to reach WordPress.org (offline,
    // a name lookup may take seconds to fail), unless a test asks for them.
    wordpressVersion: 'bundled',
    wordpressOrg: false,
    ...overrides,
  };
  const { log, logs } = captureLogger();
  const server = await startWordPress(config, log);
  return Object.assign(server, { config, logs });
}

/** PHP errors WordPress wrote to the log (warnings and worse), for "no PHP errors" checks. */
export function phpErrors(logs: Array<Record<string, unknown>>): string[] {
  return logs
    .map((entry) => entry.php)
    .filter((message): message is string => typeof message === 'string' && /PHP (Fatal|Parse|Warning|Recoverable)/.test(message));
}

/** A CookieClient logged in through wp-login.php as a browser does (test cookie first); fails loudly otherwise. */
export async function logIn(baseUrl: string, user: string, password: string): Promise<CookieClient> {
  const client = new CookieClient(baseUrl);
  await (await client.get('/wp-login.php')).arrayBuffer(); // sets wordpress_test_cookie
  const response = await client.postForm('/wp-login.php', { log: user, pwd: password, 'wp-submit': 'Log In', redirect_to: '/wp-admin/', testcookie: '1' });
  const body = await response.text();
  if (response.status !== 302 || !client.has('wordpress_logged_in_')) throw new Error(`login as ${user} failed: ${response.status} ${body.slice(0, 300)}`);
  return client;
}

/** The REST nonce WordPress puts in its admin pages (wpApiSettings), for X-WP-Nonce. */
export async function restNonce(client: CookieClient): Promise<string> {
  const page = await (await client.get('/wp-admin/index.php')).text();
  const nonce = /"nonce":"([0-9a-f]+)"/.exec(page)?.[1] ?? /wpApiSettings\s*=\s*\{[^}]*"nonce":"([^"]+)"/.exec(page)?.[1];
  if (!nonce) throw new Error('no REST nonce on the dashboard');
  return nonce;
}
