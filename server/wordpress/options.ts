import { defineOptions, optionSpecs, type ConfigOf, type OptionSpec } from '../config/schema.js';
import type { ServerConfig } from '../config/types.js';
import type { DatabaseSettings } from './database.js';

/** Settings only the `wordpress` command has, layered over the server's schema. */
export const WORDPRESS_SCHEMA = defineOptions({
  dir: {
    kind: 'path',
    docs: { arg: 'DIR', default: '`var/wordpress`', meaning: 'WordPress folder; assembled there if it holds no WordPress, served as is if it does' },
  },
  cronInterval: {
    kind: 'seconds', min: 0, max: 86400,
    docs: { arg: 'S', default: '`60`', meaning: 'the server runs `wp-cron.php` this often (0 = off)' },
  },
  wordpressVersion: {
    kind: 'string',
    docs: {
      arg: 'V', default: '`latest`',
      meaning: 'what a **new** site is assembled from: `latest` (fetched from WordPress.org and checked against its published SHA-1, cached; offline: the cached or the bundled 6.5), `X.Y.Z`, `bundled`, or a release `.zip`; an existing site is never changed by it',
    },
  },
  wordpressMirror: {
    kind: 'string',
    docs: { arg: 'URL', default: '`https://wordpress.org`', meaning: 'where `--wordpress-version` fetches from: `latest.zip`, `wordpress-X.Y.Z.zip`, each with its `.sha1`, and `plugin/sqlite-database-integration.zip`' },
  },
  siteUrl: {
    kind: 'string', optional: true,
    docs: {
      arg: 'URL', default: 'none',
      meaning: "the site's public address (`https://example.com`, may have a path); WordPress's home and site address come from it at every start",
    },
  },
  wordpressOrg: {
    kind: 'bool',
    docs: { arg: 'BOOL', default: '`true`', meaning: 'PHP may reach WordPress.org over HTTPS (updates, the plugin and theme directories, news); `false` closes it' },
  },
  db: {
    kind: 'string', optional: true,
    docs: {
      arg: 'URL', default: 'SQLite',
      meaning: '`mysql://USER@HOST:PORT/NAME`: MySQL/MariaDB instead of SQLite (PHP may reach exactly that address). The password only from `WORDPRESS_DB_PASSWORD` or `WORDPRESS_DB_PASSWORD_FILE`; without `--db`, the official image\'s `WORDPRESS_DB_HOST`, `_USER`, `_NAME` and `WORDPRESS_TABLE_PREFIX` (each also `_FILE`) are read',
    },
  },
  uploads: {
    kind: 'path', optional: true,
    docs: { arg: 'DIR', default: 'none', meaning: 'folder served and written as `wp-content/uploads` (one shared folder for several servers)' },
  },
  fileMods: {
    kind: 'bool',
    docs: { arg: 'BOOL', default: '`true`', meaning: '`false`: `DISALLOW_FILE_MODS`, no plugin, theme or core installs and updates from the dashboard (replicas: an update is a new deployment)' },
  },
  siteTitle: {
    kind: 'string', optional: true,
    help: 'Unattended install: site title (install runs when this and the admin flags are set)',
    docs: {
      default: 'none',
      meaning: 'unattended install (containers, tests) when all four are set',
      row: { flags: '`--site-title`, `--admin-user`, `--admin-password`, `--admin-email`', env: '`PHP_WASM_SERVER_SITE_TITLE`, …' },
    },
  },
  adminUser: { kind: 'string', optional: true, help: 'Unattended install: administrator login', docs: { default: 'none', meaning: '', sameRowAs: 'siteTitle' } },
  adminPassword: { kind: 'string', optional: true, help: 'Unattended install: administrator password', docs: { default: 'none', meaning: '', sameRowAs: 'siteTitle' } },
  adminEmail: { kind: 'string', optional: true, help: 'Unattended install: administrator e-mail', docs: { default: 'none', meaning: '', sameRowAs: 'siteTitle' } },
});

export type WordPressConfig = ServerConfig & ConfigOf<typeof WORDPRESS_SCHEMA> & {
  /** From --db and the environment (database.ts). */
  database: DatabaseSettings;
  /** Keys and salts from the environment (WORDPRESS_AUTH_KEY …), by constant name. */
  salts: Record<string, string>;
};

/** Flags only the `wordpress` command has. */
export const WORDPRESS_OPTIONS: readonly OptionSpec[] = optionSpecs(WORDPRESS_SCHEMA);
