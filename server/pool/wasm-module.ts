import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { getPHPLoaderModule } from '@php-wasm/node';
import type { PhpVersion } from '../config/types.js';

const compiled = new Map<PhpVersion, Promise<WebAssembly.Module>>();

/**
 * Compiles php.wasm once for the whole process. Workers instantiate the shared module, which
 * saves ~40 MB RSS and ~0.7 s per worker compared with each compiling its own copy. A server
 * started again in the same process (the tests start hundreds) reuses it too, and with it the
 * optimised machine code V8 made while earlier workers ran: a module is immutable, instances are not
 * shared.
 */
export function compilePhpModule(version: PhpVersion): Promise<WebAssembly.Module> {
  let module = compiled.get(version);
  if (!module) {
    module = (async () => {
      const loader = (await getPHPLoaderModule(version)) as { dependencyFilename: string };
      return WebAssembly.compile((await readWasm(loader.dependencyFilename)) as Uint8Array<ArrayBuffer>);
    })();
    compiled.set(version, module);
    module.catch(() => compiled.delete(version)); // a failed read may succeed later
  }
  return module;
}

/**
 * The module's bytes; a container image keeps them gzipped beside the loader (`FILE.gz`, 23 MB →
 * 9 MB), which costs a fraction of a second once per process.
 */
export async function readWasm(file: string): Promise<Uint8Array> {
  if (existsSync(file) || !existsSync(`${file}.gz`)) return readFile(file);
  return promisify(gunzip)(await readFile(`${file}.gz`));
}
