/**
 * Fills the seed cache while a container image is built:
 *   node dist/server/wordpress/prefetch.js WORDPRESS_VERSION
 * (latest, X.Y.Z or bundled), from PHP_WASM_SERVER_WORDPRESS_MIRROR or WordPress.org, verified as
 * at run time. It never fails the build: without network the image keeps the bundled build.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../logger.js';
import { projectRoot } from '../paths.js';
import { chooseSqlitePlugin, chooseWordPress, DEFAULT_MIRROR, SEED_CACHE } from './sources.js';

const version = process.argv[2] ?? 'latest';
const mirror = process.env.PHP_WASM_SERVER_WORDPRESS_MIRROR ?? DEFAULT_MIRROR;
const seed = join(projectRoot, SEED_CACHE);
const log = createLogger('info');
mkdirSync(seed, { recursive: true });
try {
  const core = await chooseWordPress(version, mirror, seed, log);
  if (core.zip) {
    await chooseSqlitePlugin(mirror, seed, log);
    log.info({ version: core.version, seed }, `image carries WordPress ${core.version}`);
  } else {
    log.warn({ reason: core.fallbackReason ?? 'bundled asked for' }, 'image carries only the bundled WordPress');
  }
} catch (error) {
  log.warn({ reason: (error as Error).message }, 'image carries only the bundled WordPress');
}
