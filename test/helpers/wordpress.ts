import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningServer } from '../../server/server.js';
import { projectRoot } from '../../server/paths.js';
import type { WordPressConfig } from '../../server/wordpress/options.js';
import { loadWordPressConfig, startWordPress } from '../../server/wordpress/start.js';
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
    port: 0,
    workers: 2,
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
