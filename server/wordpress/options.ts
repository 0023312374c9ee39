import { ENV_PREFIX, type OptionSpec } from '../config/options.js';
import type { ServerConfig } from '../config/types.js';

export interface WordPressConfig extends ServerConfig {
  dir: string;
  /** Seconds between server-driven wp-cron.php runs; 0 turns it off. */
  cronInterval: number;
  siteTitle?: string;
  adminUser?: string;
  adminPassword?: string;
  adminEmail?: string;
  /** Public address (scheme, host, optional path) WordPress builds its links from; wins over the database. */
  siteUrl?: string;
}

const option = (key: string, flag: string, kind: OptionSpec['kind'], describe: string, extra: Partial<OptionSpec> = {}): OptionSpec => ({
  key, flag, kind, describe, env: ENV_PREFIX + flag.toUpperCase().replace(/-/g, '_'), ...extra,
});

/** Flags only the `wordpress` command has. */
export const WORDPRESS_OPTIONS: readonly OptionSpec[] = [
  option('dir', 'dir', 'path', 'WordPress folder: assembled there on first run if it holds no WordPress (default var/wordpress)'),
  option('cronInterval', 'cron-interval', 'seconds', 'Seconds between server-run wp-cron.php requests (0 = off)', { min: 0, max: 86400 }),
  option('siteUrl', 'site-url', 'string', 'Public address of the site, e.g. https://example.com (WP_HOME/WP_SITEURL; default http://localhost:PORT)'),
  option('siteTitle', 'site-title', 'string', 'Unattended install: site title (install runs when this and the admin flags are set)'),
  option('adminUser', 'admin-user', 'string', 'Unattended install: administrator login'),
  option('adminPassword', 'admin-password', 'string', 'Unattended install: administrator password'),
  option('adminEmail', 'admin-email', 'string', 'Unattended install: administrator e-mail'),
];
