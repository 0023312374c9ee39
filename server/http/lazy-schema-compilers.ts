/**
 * Fastify loads its schema compilers (Ajv and fast-json-stringify) when an instance is made, and the
 * server has no route with a schema: on this 2-core machine that was ~45-55 ms of the main thread's
 * start, while php.wasm's module is being made beside it. These factories load the same compilers
 * the first time a route with a schema asks for one, so a schema added later works as before.
 */
import { createRequire } from 'node:module';
import type { FastifyServerOptions } from 'fastify';

// The compilers are Fastify's own dependencies: resolved from where Fastify is, as Fastify does.
const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'));

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
type Factory = (...args: unknown[]) => unknown;

function loadedOnFirstUse(packageName: string): Factory {
  let factory: Factory | undefined;
  return (...args) => {
    factory ??= (fromFastify(packageName) as () => Factory)();
    return factory(...args);
  };
}

export function lazySchemaController(): FastifyServerOptions['schemaController'] {
  return {
    compilersFactory: {
      buildValidator: loadedOnFirstUse('@fastify/ajv-compiler'),
      buildSerializer: loadedOnFirstUse('@fastify/fast-json-stringify-compiler'),
    } as CompilersFactory,
  };
}
