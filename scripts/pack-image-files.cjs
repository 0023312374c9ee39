// Container image build step (Dockerfile): packs what the image carries but rarely reads, so the image
// is smaller. WordPress's static assets (only the listed ones) go into one ZIP beside their list, read
// back by assemble.ts when a site is created; php.wasm is gzipped (wasm-module.ts reads FILE.gz).
//   node scripts/pack-image-files.cjs ASSETS_DIR WASM_FILE
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const AdmZip = require('adm-zip');

const [assetsDir, wasmFile] = process.argv.slice(2);
if (!assetsDir || !wasmFile) throw new Error('usage: pack-image-files.cjs ASSETS_DIR WASM_FILE');
// A second run would pack the already removed files into an empty ZIP.
if (fs.existsSync(path.join(assetsDir, 'wordpress-remote-assets.zip'))) throw new Error(`${assetsDir} is packed already`);
if (!fs.existsSync(wasmFile)) throw new Error(`no ${wasmFile}`);

const list = fs.readFileSync(path.join(assetsDir, 'wordpress-remote-asset-paths'), 'utf8')
  .split('\n').map((line) => line.trim().replace(/^\/+/, '')).filter(Boolean);
const zip = new AdmZip();
let packed = 0;
for (const rel of list) {
  const file = path.join(assetsDir, rel);
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) continue;
  zip.addFile(rel, fs.readFileSync(file));
  fs.rmSync(file);
  packed++;
}
zip.writeZip(path.join(assetsDir, 'wordpress-remote-assets.zip'));

fs.writeFileSync(`${wasmFile}.gz`, zlib.gzipSync(fs.readFileSync(wasmFile), { level: 9 }));
fs.rmSync(wasmFile);
console.log(`packed ${packed} assets and ${path.basename(wasmFile)}`);
