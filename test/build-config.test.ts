/**
 * `npm start` compiles the server alone (tsconfig.server.json): a test or bench file that does not
 * compile must never keep the server from starting. Checked with the real compiler on a copy of the
 * project's configs beside a deliberately broken test file.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { projectRoot } from '../server/paths.js';
import { tempDir } from './helpers/server.js';

// lib/tsc.js, not bin/tsc: tap hooks every node it spawns with a require() loader, and bin/tsc (no
// extension) would then be require()d although it is an ES module.
const tsc = join(projectRoot, 'node_modules', 'typescript', 'lib', 'tsc.js');

t.test('npm start builds with tsconfig.server.json, which holds the server and nothing else', async (t) => {
  const scripts = (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  t.match(scripts.prestart, /tsc -p tsconfig\.server\.json\b/, 'prestart compiles the server config');
  t.match(scripts['prestart:docroot'], /tsc -p tsconfig\.server\.json\b/);
  const config = JSON.parse(readFileSync(join(projectRoot, 'tsconfig.server.json'), 'utf8')) as { include: string[] };
  t.same(config.include, ['server/**/*.ts']);
});

t.test('a broken test file fails the full build but not the server build', async (t) => {
  const dir = tempDir(t, 'pws-buildcfg-');
  for (const file of ['tsconfig.json', 'tsconfig.server.json']) cpSync(join(projectRoot, file), join(dir, file));
  mkdirSync(join(dir, 'server'));
  mkdirSync(join(dir, 'test'));
  symlinkSync(join(projectRoot, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'server', 'ok.ts'), 'export const answer: number = 42;\n');
  writeFileSync(join(dir, 'test', 'broken.test.ts'), 'const wrong: number = "not a number";\n');

  const full = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json', '--noEmit'], { cwd: dir, encoding: 'utf8' });
  t.not(full.status, 0, 'the full build fails on the broken test');
  t.match(full.stdout, /broken\.test\.ts/);
  t.doesNotThrow(() => execFileSync(process.execPath, [tsc, '-p', 'tsconfig.server.json', '--noEmit'], { cwd: dir, encoding: 'utf8' }), 'the server build passes');
});
