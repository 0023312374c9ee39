import { join } from 'node:path';
import { loadConfig, type Loaded } from '../config/load.js';
import { projectRoot } from '../paths.js';
import { resolveDatabase } from './database.js';
import { saltsFromEnv } from './database-php.js';
import { WORDPRESS_OPTIONS, type WordPressConfig } from './options.js';
import { normaliseSiteUrl } from './site-url.js';

/** Core settings + the WordPress preset (config/wordpress.json) + the `wordpress` flags. */
export function loadWordPressConfig(argv: string[], env: Record<string, string | undefined>, cwd: string): Loaded<WordPressConfig> {
  const loaded = loadConfig<WordPressConfig>({
    argv,
    env,
    cwd,
    extraOptions: WORDPRESS_OPTIONS,
    presetFile: join(projectRoot, 'config', 'wordpress.json'),
  });
  loaded.config.siteUrl = normaliseSiteUrl(loaded.config.siteUrl);
  loaded.config.database = resolveDatabase(loaded.config.db, env);
  loaded.config.salts = saltsFromEnv(env);
  return loaded;
}

