/**
 * What the container image packs to be smaller (Dockerfile) is read back as if it were not: the
 * gzipped php.wasm, and WordPress's static assets in one ZIP.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 as nodeCrc32, gzipSync } from 'node:zlib';
import AdmZip from 'adm-zip';
import t from 'tap';
import { openWasm, readOpenedWasm } from '../server/pool/wasm-bytes.js';
import { PACKED_ASSETS, restoreAssets } from '../server/wordpress/assemble.js';
import { extractZip, jsCrc32 } from '../server/wordpress/zip-extract.js';
import { tempDir } from './helpers/server.js';

const readWasm = async (file: string) => (await readOpenedWasm(openWasm(file))).bytes;

t.test('php.wasm is read as is, or from FILE.gz when only that is there', async (t) => {
  const dir = tempDir(t);
  const bytes = Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
  writeFileSync(join(dir, 'plain.wasm'), bytes);
  writeFileSync(join(dir, 'packed.wasm.gz'), gzipSync(bytes));
  t.same(Buffer.from(await readWasm(join(dir, 'plain.wasm'))), bytes, 'plain');
  t.same(Buffer.from(await readWasm(join(dir, 'packed.wasm'))), bytes, 'gzipped');
  await t.rejects(readWasm(join(dir, 'missing.wasm')), /ENOENT.*missing\.wasm/, 'neither: the error names the file');
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

// ---- ZIP extraction (zip-extract.ts): what it refuses. Each test makes its own small zip. ----

/** Offsets of an entry's central and local headers in a zip buffer. */
function headers(zip: Buffer, name: string): { central: number; local: number } {
  for (let p = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06])), cd = zip.readUInt32LE(p + 16), i = cd; zip.readUInt32LE(i) === 0x02014b50; ) {
    const n = zip.readUInt16LE(i + 28);
    if (zip.toString('utf8', i + 46, i + 46 + n) === name) return { central: i, local: zip.readUInt32LE(i + 42) };
    i += 46 + n + zip.readUInt16LE(i + 30) + zip.readUInt16LE(i + 32);
  }
  throw new Error(`no ${name}`);
}

function makeZip(files: Record<string, Buffer | string>, stored: string[] = []): Buffer {
  const zip = new AdmZip();
  for (const [name, data] of Object.entries(files)) zip.addFile(name, Buffer.from(data));
  for (const name of stored) zip.getEntry(name)!.header.method = 0;
  return zip.toBuffer();
}

const keepAll = () => true;
// Both ways of reading: the archive whole (as for WordPress's) and entry by entry (a larger archive).
const READS = [{ how: 'read whole', opts: {} }, { how: 'read by entry', opts: { readWholeBelow: 0 } }];

t.test('extracts files and folders, stripping a common top folder; a large entry is streamed', async (t) => {
  const big = Buffer.alloc(5 * 1024 * 1024 + 3, 'wp');
  const zipFile = join(tempDir(t), 'wordpress.zip');
  const zip = new AdmZip();
  zip.addFile('wordpress/', Buffer.alloc(0));
  zip.addFile('wordpress/wp-includes/version.php', Buffer.from("<?php $wp_version = '6.5';"));
  zip.addFile('wordpress/empty.txt', Buffer.alloc(0));
  zip.addFile('wordpress/stored.txt', Buffer.from('stored as is'));
  zip.getEntry('wordpress/stored.txt')!.header.method = 0;
  zip.addFile('wordpress/wp-content/big.bin', big);
  zip.addFile('wordpress/wp-content/uploads/', Buffer.alloc(0));
  zip.writeZip(zipFile);
  for (const { how, opts } of READS) {
    const dest = tempDir(t);
    t.equal(await extractZip(zipFile, dest, (rel) => rel !== 'stored.txt' || how === 'read whole', opts), how === 'read whole' ? 4 : 3, how);
    t.equal(readFileSync(join(dest, 'wp-includes/version.php'), 'utf8'), "<?php $wp_version = '6.5';", how);
    t.equal(readFileSync(join(dest, 'empty.txt'), 'utf8'), '', `${how}: empty file`);
    t.equal(existsSync(join(dest, 'stored.txt')), how === 'read whole', `${how}: keep() decides`);
    t.ok(readFileSync(join(dest, 'wp-content/big.bin')).equals(big), `${how}: large entry`);
    t.same(readdirSync(join(dest, 'wp-content/uploads')), [], `${how}: folder entry`);
  }
});

t.test('reads a ZIP64 archive', async (t) => {
  // zip -fz (Info-ZIP, forced ZIP64): top/a.txt ("hello zip64\n", its size in the ZIP64 extra field) and top/.
  const zip64 =
    'UEsDBC0AAAAAAAEnhF3q40/t//////////8JABQAdG9wL2EudHh0AQAQAAwAAAAAAAAADAAAAAAAAABoZWxsbyB6aXA2NApQSwMELQAAAAAAASeEXQAAAAD//////////wQAFAB0b3AvAQAQAAAAAAAAAAAAAAAAAAAAAABQSwECHgMtAAAAAAABJ4Rd6uNP7QwAAAD/////CQAMAAAAAAABAAAApIEAAAAAdG9wL2EudHh0AQAIAAwAAAAAAAAAUEsBAh4DCgAAAAAAASeEXQAAAAAAAAAA/////wQADAAAAAAAAAAQAO1BRwAAAHRvcC8BAAgAAAAAAAAAAABQSwYGLAAAAAAAAAAeAy0AAAAAAAAAAAACAAAAAAAAAAIAAAAAAAAAgQAAAAAAAAB9AAAAAAAAAFBLBgcAAAAA/gAAAAAAAAABAAAAUEsFBgAAAAACAAIAgQAAAP////8AAA==';
  const zipFile = join(tempDir(t), 'zip64.zip');
  writeFileSync(zipFile, Buffer.from(zip64, 'base64'));
  const dest = tempDir(t);
  t.equal(await extractZip(zipFile, dest, keepAll), 1);
  t.equal(readFileSync(join(dest, 'a.txt'), 'utf8'), 'hello zip64\n');
});

t.test('a corrupted entry (CRC-32 mismatch) is refused, naming the entry', async (t) => {
  // Stored: one byte of the data flipped; same size, other CRC.
  const stored = makeZip({ 'wp-includes/css/a.css': 'a{color:red}', 'wp-admin/b.css': 'b{}' }, ['wp-includes/css/a.css']);
  stored[stored.indexOf('a{color:red}') + 2] ^= 1;
  const from = tempDir(t);
  writeFileSync(join(from, PACKED_ASSETS), stored);
  await t.rejects(
    restoreAssets(from, tempDir(t), ['wp-includes/css/a.css', 'wp-admin/b.css']),
    /"wp-includes\/css\/a\.css": CRC-32 mismatch/,
    'restoring the assets fails',
  );

  // Deflated: the CRC in both headers changed.
  const deflated = makeZip({ 'top/wp-settings.php': '<?php '.repeat(500) });
  const { central, local } = headers(deflated, 'top/wp-settings.php');
  t.equal(deflated.readUInt16LE(central + 10), 8, 'the entry is deflated');
  deflated.writeUInt32LE((deflated.readUInt32LE(central + 16) ^ 0x100) >>> 0, central + 16);
  deflated.writeUInt32LE((deflated.readUInt32LE(local + 14) ^ 0x100) >>> 0, local + 14);
  const zipFile = join(tempDir(t), 'crc.zip');
  writeFileSync(zipFile, deflated);
  for (const { how, opts } of READS) {
    await t.rejects(extractZip(zipFile, tempDir(t), keepAll, opts), /"top\/wp-settings\.php": CRC-32 mismatch/, how);
  }
});

t.test('an entry inflating past its declared size is refused (zip bomb), as is an archive declaring too much', async (t) => {
  const patchSize = (zip: Buffer, name: string, size: number) => {
    const { central, local } = headers(zip, name);
    zip.writeUInt32LE(size, central + 24);
    zip.writeUInt32LE(size, local + 22);
  };
  // In memory: 100 kB of zeros declared as 1000 bytes.
  const small = makeZip({ 'bomb.txt': Buffer.alloc(100_000), 'ok.txt': 'ok' });
  patchSize(small, 'bomb.txt', 1000);
  // Streamed: 6 MiB declared as 4.5 MiB.
  const large = makeZip({ 'bomb.bin': Buffer.alloc(6 * 1024 * 1024) });
  patchSize(large, 'bomb.bin', 4.5 * 1024 * 1024);
  for (const [name, zip, declared] of [['bomb.txt', small, 1000], ['bomb.bin', large, 4.5 * 1024 * 1024]] as const) {
    const zipFile = join(tempDir(t), 'bomb.zip');
    writeFileSync(zipFile, zip);
    for (const { how, opts } of READS) {
      const dest = tempDir(t);
      await t.rejects(
        extractZip(zipFile, dest, keepAll, opts),
        new RegExp(`"${name.replace('.', '\\.')}": it inflates to more than the ${declared} bytes its header declares`),
        `${name}, ${how}`,
      );
      t.notOk(existsSync(join(dest, name)), `${name}, ${how}: no partial file left`);
    }
  }

  // Honest sizes, but more than allowed altogether.
  const zipFile = join(tempDir(t), 'big.zip');
  writeFileSync(zipFile, makeZip({ 'a.bin': Buffer.alloc(600), 'b.bin': Buffer.alloc(600) }));
  const dest = tempDir(t);
  await t.rejects(extractZip(zipFile, dest, keepAll, { maxTotalBytes: 1000 }), /refusing to extract more than 1000 bytes/);
  t.same(readdirSync(dest), [], 'nothing written');
});

t.test('unsafe paths and symbolic links are refused; nothing lands outside dest', async (t) => {
  const rename = (zip: Buffer, from: string, to: string) => {
    t.equal(from.length, to.length);
    for (let i = zip.indexOf(from); i >= 0; i = zip.indexOf(from, i + 1)) zip.write(to, i);
    return zip;
  };
  const cases: [string, Buffer][] = [
    ['../evil.php', rename(makeZip({ 'ok.txt': 'ok', 'xx/evil.php': '<?php' }), 'xx/evil.php', '../evil.php')],
    ['wordpress/../../evil.php', rename(makeZip({ 'wordpress/a.php': 'a', 'wordpress/xx/xx/evil.php': '<?php' }), 'wordpress/xx/xx/evil.php', 'wordpress/../../evil.php')],
    ['/tmp/evil.php', rename(makeZip({ 'ok.txt': 'ok', 'xtmp/evil.php': '<?php' }), 'xtmp/evil.php', '/tmp/evil.php')],
  ];
  for (const [name, zip] of cases) {
    const parent = tempDir(t);
    const dest = join(parent, 'site', 'wordpress');
    mkdirSync(dest, { recursive: true });
    const zipFile = join(parent, 'hostile.zip');
    writeFileSync(zipFile, zip);
    await t.rejects(extractZip(zipFile, dest, keepAll), new RegExp(`refusing unsafe path "${name.replace(/[./]/g, '\\$&')}"`), name);
    t.same(readdirSync(dest), [], `${name}: nothing extracted`);
    t.same(readdirSync(join(parent, 'site')), ['wordpress'], `${name}: nothing beside dest`);
  }

  const link = makeZip({ 'wp-content/link': '/etc/passwd', 'ok.txt': 'ok' }, ['wp-content/link']);
  const { central } = headers(link, 'wp-content/link');
  link.writeUInt8(3, central + 5); // made by: Unix
  link.writeUInt32LE((0o120777 << 16) >>> 0, central + 38); // mode: symbolic link
  const zipFile = join(tempDir(t), 'link.zip');
  writeFileSync(zipFile, link);
  await t.rejects(extractZip(zipFile, tempDir(t), keepAll), /refusing symbolic link "wp-content\/link"/);
  t.equal(await extractZip(zipFile, tempDir(t), (rel) => rel === 'ok.txt'), 1, 'a link that is not kept is not written, so not refused');
});

t.test('the CRC-32 fallback (Node < 20.15 has no zlib.crc32) agrees with zlib', async (t) => {
  const data = Buffer.from('The quick brown fox jumps over the lazy dog');
  t.equal(jsCrc32(data), 0x414fa339);
  t.equal(jsCrc32(data.subarray(10), jsCrc32(data.subarray(0, 10))), 0x414fa339, 'incremental');
  if (typeof nodeCrc32 === 'function') t.equal(jsCrc32(data), nodeCrc32(data));
});
