import { join } from 'node:path';
import { loadConfig } from '../config/load.js';
import { OPTIONS } from '../config/options.js';
import { createLogger } from '../logger.js';
import { projectRoot } from '../paths.js';
import type { RunningServer } from '../server.js';
import { assembleWordPress } from './assemble.js';
import { startCron } from './cron.js';
import { installIfRequested } from './install.js';
import { WORDPRESS_OPTIONS, type WordPressConfig } from './options.js';
import { printHelp, type Serve } from '../cli.js';

export { WORDPRESS_OPTIONS };

/**
 * WordPress tells from got_url_rewrite() whether the server rewrites URLs; only Apache (mod_rewrite),
 * nginx and IIS are recognised. Pre-registering the filter before WordPress loads (it adopts
 * hooks found in $wp_filter) makes "Post name" permalinks work without touching the site's files.
 */
const WORDPRESS_PREPEND = "$GLOBALS['wp_filter']['got_url_rewrite'][10][] = ['function' => '__return_true', 'accepted_args' => 0];";

/** `php-wasm-server wordpress [--dir DIR] [core flags]`: assemble on first run, then serve. */
export async function runWordPressCommand(argv: string[], serve: Serve): Promise<number> {
  const { config, help } = loadConfig<WordPressConfig>({
    argv,
    env: process.env,
    cwd: process.cwd(),
    extraOptions: WORDPRESS_OPTIONS,
    presetFile: join(projectRoot, 'config', 'wordpress.json'),
  });
  if (help) return printHelp([...OPTIONS, ...WORDPRESS_OPTIONS], 'wordpress ');
  const log = createLogger(config.logLevel);
  const { assembled } = await assembleWordPress(config.dir, { log });
  if (!assembled) log.info({ dir: config.dir }, 'serving existing WordPress');
  const serverConfig: WordPressConfig = { ...config, docroot: config.dir, extraPrepend: WORDPRESS_PREPEND };
  return serve(serverConfig, (server: RunningServer) => {
    void installIfRequested(server, config, log);
    startCron(server, config, log);
  });
}
