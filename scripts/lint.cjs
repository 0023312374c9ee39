#!/usr/bin/env node
// `npm run lint`: ESLint + typescript-eslint from tools/lint, a package of its own (typescript-eslint
// needs TypeScript's JS API, which the project's TypeScript 7 does not have). Installed here on first
// use or when its lockfile changed, so neither the root `npm ci` nor the Docker image carries it.
// Extra arguments go to eslint: `npm run lint -- --fix`.
'use strict';
const { spawnSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const { existsSync, readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const toolDir = join(root, 'tools', 'lint');
// What is linted.
const TARGETS = ['server', 'test', 'bench', 'scripts', 'bin'];

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

const lockHash = createHash('sha256').update(readFileSync(join(toolDir, 'package-lock.json'))).digest('hex');
const stamp = join(toolDir, 'node_modules', '.installed-lock-sha256');
if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== lockHash) {
  // Under `npm run`, npm_execpath is the npm that runs us; otherwise the one on PATH.
  const npm = process.env.npm_execpath ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];
  const status = run(npm[0], [...npm[1], 'ci', '--prefix', toolDir, '--no-audit', '--no-fund']);
  if (status !== 0) process.exit(status);
  writeFileSync(stamp, lockHash);
}

process.exit(run(process.execPath, [
  join(toolDir, 'node_modules', 'eslint', 'bin', 'eslint.js'),
  '--config', join(toolDir, 'eslint.config.mjs'),
  ...TARGETS,
  ...process.argv.slice(2),
]));
