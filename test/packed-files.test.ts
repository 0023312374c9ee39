/**
 * What the container image packs to be smaller (Dockerfile) is read back as if it were not: the
 * gzipped php.wasm, and WordPress's static assets in one ZIP.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import AdmZip from 'adm-zip';
import t from 'tap';
import { readWasm } from '../server/pool/wasm-module.js';
import { PACKED_ASSETS, restoreAssets } from '../server/wordpress/assemble.js';
import { tempDir } from './helpers/server.js';

t.test('php.wasm is read as is, or from FILE.gz when only that is there', async (t) => {
  const dir = tempDir(t);
  const bytes = Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
  writeFileSync(join(dir, 'plain.wasm'), bytes);
  writeFileSync(join(dir, 'packed.wasm.gz'), gzipSync(bytes));
  t.same(Buffer.from(await readWasm(join(dir, 'plain.wasm'))), bytes, 'plain');
  t.same(Buffer.from(await readWasm(join(dir, 'packed.wasm'))), bytes, 'gzipped');
  await t.rejects(readWasm(join(dir, 'missing.wasm')), /ENOENT/, 'neither: the error names the file');
});

t.test('static assets come from the packed ZIP when the loose files are gone; only the listed ones', async (t) => {
  const from = tempDir(t);
  const to = tempDir(t);
  const zip = new AdmZip();
  zip.addFile('wp-includes/css/a.css', Buffer.from('a{}'));
  zip.addFile('wp-admin/images/b.svg', Buffer.from('<svg/>'));
  zip.addFile('wp-admin/not-listed.txt', Buffer.from('x'));
  zip.writeZip(join(from, PACKED_ASSETS));
  await restoreAssets(from, to, ['wp-includes/css/a.css', 'wp-admin/images/b.svg']);
  t.equal(readFileSync(join(to, 'wp-includes/css/a.css'), 'utf8'), 'a{}');
  t.equal(readFileSync(join(to, 'wp-admin/images/b.svg'), 'utf8'), '<svg/>');
  t.same(readdirSync(join(to, 'wp-admin')).sort(), ['images'], 'what the list does not name stays out');

  const loose = tempDir(t);
  mkdirSync(join(loose, 'wp-includes'));
  writeFileSync(join(loose, 'wp-includes', 'c.js'), 'c');
  const into = tempDir(t);
  await restoreAssets(loose, into, ['wp-includes/c.js']);
  t.equal(readFileSync(join(into, 'wp-includes', 'c.js'), 'utf8'), 'c', 'loose files, as npm installs them');
});
