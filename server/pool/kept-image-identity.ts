/**
 * What a kept warm image (kept-image.ts) was made by: php.wasm and its JavaScript, and this server's
 * own code, which lays the instance out before PHP starts up. Named by each file's path (relative
 * to the project), size and modification time, not its contents: cheap at every start, and any
 * install or build changes them. Not by device or inode: a container's overlay file system may give
 * the same files others at each start.
 */
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PhpVersion } from '../config/types.js';
import { projectRoot } from '../paths.js';
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
  for (const file of files) hash.update(`${relative(projectRoot, file)}\n${fileIdentity(file)}\n`);
  return hash.digest('hex');
}

function fileIdentity(path: string): string {
  const stat = statSync(path, { bigint: true });
  return `${stat.size}:${stat.mtimeNs}`;
}

/** The .js files under `folder`, in a stable order (walked by hand: Dirent.parentPath is newer than Node 20.10). */
function codeFiles(folder: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) files.push(...codeFiles(path));
    else if (entry.isFile() && entry.name.endsWith('.js')) files.push(path);
  }
  return files.sort();
}
