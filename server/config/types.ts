import type { PHP_VERSIONS, ServerSettings } from './options.js';

export type { Mount } from './schema.js';

export type PhpVersion = (typeof PHP_VERSIONS)[number];

/** Every setting (derived from the schema in options.ts) plus what presets set in code. */
export interface ServerConfig extends ServerSettings {
  /** PHP run before every script, set by presets (not a user setting). */
  extraPrepend?: string;
  /** The site's public address, set by presets (WordPress's --site-url): PHP calling it calls this server. */
  siteUrl?: string;
}
