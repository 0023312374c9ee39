/**
 * What a kept warm image (kept-image.ts) was made by: php.wasm and its JavaScript, and this server's
 * own code, which lays the instance out before PHP starts up. Named by file identities (device,
 * inode, size, times), not contents: cheap at every start, and any install or build changes them.
 */
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PhpVersion } from '../config/types.js';
import { phpLoaderModule } from './wasm-module.js';

/** dist/server: every module of the server, the worker's among them. */
const SERVER_CODE = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function keptImageIdentity(phpVersion: PhpVersion): Promise<string> {
  const require = createRequire(import.meta.url);
  const buildPackage = `@php-wasm/node-${phpVersion.replace('.', '-')}`;
  const loader = await phpLoaderModule(phpVersion);
  const files = [
    loader.dependencyFilename,
    ...['@php-wasm/node', '@php-wasm/universal', buildPackage].map((name) => require.resolve(`${name}/package.json`)),
    ...codeFiles(SERVER_CODE),
  ];
  const hash = createHash('sha256').update(`${process.version}\n${process.arch}\n`);
  for (const file of files) hash.update(`${file}\n${fileIdentity(file)}\n`);
  return hash.digest('hex');
}

function fileIdentity(path: string): string {
  const stat = statSync(path, { bigint: true });
  return [stat.dev, stat.ino, stat.size, stat.mtimeNs, stat.ctimeNs].join(':');
}

function codeFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.js'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}
