import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The package root (where package.json, config/ and docroot/ live), from dist/server/ or server/. */
export const projectRoot = join(fileURLToPath(new URL('.', import.meta.url)), fileURLToPath(import.meta.url).includes('/dist/') ? '../..' : '..');

/** Where PHP sees the served folder. */
export const GUEST_DOCROOT = '/docroot';
