/**
 * Fastify's schema compilers (Ajv, fast-json-stringify) are loaded when a route with a schema first
 * needs one, not when the server starts: a started server has loaded neither, and a schema still works.
 */
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Fastify from 'fastify';
import t from 'tap';
import { lazySchemaController } from '../server/http/lazy-schema-compilers.js';
import { tempDir } from './helpers/server.js';

const DIST = join(import.meta.dirname, '..');

t.test('a started server (site and admin listeners) has loaded no schema compiler', async (t) => {
  const docroot = tempDir(t);
  writeFileSync(join(docroot, 'index.php'), '<?php echo "hi";');
  // A process of its own: what a start loads, nothing the test runner loaded before. (Fastify's
  // precompiled error serialiser needs fast-json-stringify's small runtime part, not its compiler.)
  const script = `
    import { pino } from '${pathToFileURL(createRequire(import.meta.url).resolve('pino')).href}';
    import { loadConfig } from '${DIST}/server/config/load.js';
    import { startServer } from '${DIST}/server/server.js';
    import { createRequire } from 'node:module';
    const { config } = loadConfig({ argv: ['--docroot', ${JSON.stringify(docroot)}, '--port', '0', '--host', '127.0.0.1', '--workers', '1', '--admin-port', '0', '--admin-host', '127.0.0.1'], env: {}, cwd: process.cwd() });
    const server = await startServer(config, pino({ level: 'silent' }));
    const page = await (await fetch(server.url + '/index.php')).text();
    const metrics = (await fetch(server.adminUrl + '/metrics')).status;
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((p) => /node_modules[\\\\/](ajv|@fastify[\\\\/]ajv-compiler|@fastify[\\\\/]fast-json-stringify-compiler)[\\\\/]|fast-json-stringify[\\\\/]index\\.js$/.test(p));
    await server.close();
    process.stdout.write(JSON.stringify({ page, metrics, loaded }));
  `;
  const scriptFile = join(docroot, '..', `${docroot.split('/').pop()}-start.mjs`);
  writeFileSync(scriptFile, script);
  t.teardown(() => rmSync(scriptFile, { force: true }));
  // Without the test runner's NODE_OPTIONS (its loader hooks would load modules of their own).
  const out = JSON.parse(execFileSync(process.execPath, [scriptFile], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, NODE_OPTIONS: '' } })) as { page: string; metrics: number; loaded: string[] };
  t.equal(out.page, 'hi', 'the server served PHP');
  t.equal(out.metrics, 200, 'and its admin listener answered');
  t.same(out.loaded, [], 'neither Ajv nor fast-json-stringify was loaded');
});

t.test('a route with a schema is validated and serialised as with Fastify\'s defaults', async (t) => {
  const app = Fastify({ schemaController: lazySchemaController() });
  t.teardown(() => app.close());
  app.post('/', {
    schema: {
      body: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } },
      response: { 200: { type: 'object', properties: { doubled: { type: 'integer' } } } },
    },
  }, async (request) => ({ doubled: (request.body as { n: number }).n * 2, secret: 'not in the schema' }));
  const bad = await app.inject({ method: 'POST', url: '/', payload: { n: 'x' } });
  t.equal(bad.statusCode, 400, 'an invalid body is refused');
  t.match(bad.json(), { message: /body\/n must be integer/ });
  const good = await app.inject({ method: 'POST', url: '/', payload: { n: 21 } });
  t.equal(good.statusCode, 200);
  t.same(good.json(), { doubled: 42 }, 'the response schema drops what it does not list');
});
