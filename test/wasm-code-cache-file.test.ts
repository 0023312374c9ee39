/**
 * php.wasm's machine code on disk: used only when the file names these wire bytes and this Node,
 * is whole, and lies in folders only the server's user can write; written whole or not at all.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { CODE_FOLDER, codeKey, decodeCodeFile, encodeCodeFile, MAX_CODE_BYTES, readCodeFile, writeCodeFile } from '../server/wasm-code-cache/cache-file.js';
import { codeCacheLocation } from '../server/wasm-code-cache/location.js';
import { PHP_VERSIONS } from '../server/config/options.js';
import { loadPhpModule, phpLoaderModule } from '../server/pool/wasm-module.js';
import { tempDir } from './helpers/server.js';

const KEY = codeKey(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
const CODE = new Uint8Array(4096).map((_, i) => (i * 7) & 0xff);

/** A private folder as prepareOpcacheFileCache leaves it. */
function cacheRoot(t: Parameters<typeof tempDir>[0]): string {
  const root = tempDir(t);
  chmodSync(root, 0o700);
  return root;
}

t.test('the key names the wire bytes and this Node', async (t) => {
  t.match(KEY, /^[0-9a-f]{64}$/);
  t.equal(codeKey(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])), KEY, 'the same bytes, the same key');
  t.not(codeKey(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 1])), KEY, 'one byte more or other: another key');
});

t.test('a code file decodes only whole and for its own key', async (t) => {
  const file = encodeCodeFile(KEY, CODE);
  const decoded = decodeCodeFile(file, KEY);
  t.ok(typeof decoded !== 'string' && Buffer.from(decoded).equals(Buffer.from(CODE)), 'round trip');
  t.match(decodeCodeFile(file, codeKey(new Uint8Array([1]))), /other php\.wasm bytes or by another Node/);
  t.match(decodeCodeFile(file.subarray(0, file.byteLength - 10), KEY), /truncated or extended/, 'truncated (V8 itself loaded such a file)');
  t.match(decodeCodeFile(Buffer.concat([file, Buffer.from([0])]), KEY), /truncated or extended/);
  const flipped = Buffer.from(file);
  flipped[flipped.byteLength - 100] ^= 1;
  t.match(decodeCodeFile(flipped, KEY), /does not match its hash/, 'one bit changed');
  t.match(decodeCodeFile(Buffer.from('PWSCODE0xxxx'), KEY), /not a code file/);
  t.match(decodeCodeFile(file.subarray(0, 20), KEY), /truncated header/);
  const badHeader = Buffer.from(file);
  badHeader[12] = 0x7b ^ 0xff;
  t.match(decodeCodeFile(badHeader, KEY), /unreadable header/);
});

t.test('written whole with mode 0600, read back; no temporary file left', async (t) => {
  const root = cacheRoot(t);
  t.same(readCodeFile(root, KEY), { miss: `${join(root, CODE_FOLDER)}: none yet` }, 'nothing written yet');
  const path = writeCodeFile(root, KEY, CODE);
  t.equal(path, join(root, CODE_FOLDER, `${KEY}.bin`));
  t.same(readdirSync(join(root, CODE_FOLDER)), [`${KEY}.bin`]);
  t.equal(statSync(path).mode & 0o777, 0o600);
  t.equal(statSync(join(root, CODE_FOLDER)).mode & 0o777, 0o700);
  const read = readCodeFile(root, KEY);
  t.ok('code' in read && Buffer.from(read.code).equals(Buffer.from(CODE)));
  writeCodeFile(root, KEY, CODE.subarray(0, 100));
  const again = readCodeFile(root, KEY);
  t.equal('code' in again && again.code.byteLength, 100, 'a second write replaces the first');
});

t.test('refused where someone else could have planted it', async (t) => {
  const root = cacheRoot(t);
  const path = writeCodeFile(root, KEY, CODE);
  chmodSync(path, 0o644);
  t.match(readCodeFile(root, KEY), { miss: /others may read or write it \(mode 644\)/ }, 'a file others may read or write');
  chmodSync(path, 0o600);
  chmodSync(join(root, CODE_FOLDER), 0o770);
  t.match(readCodeFile(root, KEY), { miss: /php\.wasm-code: others may read or write it/ }, 'its folder');
  t.throws(() => writeCodeFile(root, KEY, CODE), /others may read or write it/, 'and nothing is written there');
  chmodSync(join(root, CODE_FOLDER), 0o700);
  chmodSync(root, 0o755);
  t.match(readCodeFile(root, KEY), { miss: /others may read or write it \(mode 755\)/ }, 'the cache folder above it');
  chmodSync(root, 0o700);
  t.ok('code' in readCodeFile(root, KEY), 'private again: read');

  const elsewhere = tempDir(t);
  const linked = cacheRoot(t);
  mkdirSync(join(linked, CODE_FOLDER), { mode: 0o700 });
  writeFileSync(join(elsewhere, 'planted.bin'), encodeCodeFile(KEY, CODE), { mode: 0o600 });
  symlinkSync(join(elsewhere, 'planted.bin'), join(linked, CODE_FOLDER, `${KEY}.bin`));
  t.match(readCodeFile(linked, KEY), { miss: /a symbolic link/ }, 'a symlinked file');

  const big = cacheRoot(t);
  writeCodeFile(big, KEY, CODE);
  truncateSync(join(big, CODE_FOLDER, `${KEY}.bin`), MAX_CODE_BYTES + 1024 * 1024); // sparse: nothing is written
  t.match(readCodeFile(big, KEY), { miss: /larger than/ }, 'a file over the bound is not read');

  const piped = cacheRoot(t);
  writeCodeFile(piped, KEY, CODE);
  rmSync(join(piped, CODE_FOLDER, `${KEY}.bin`));
  execFileSync('mkfifo', ['-m', '600', join(piped, CODE_FOLDER, `${KEY}.bin`)]);
  t.match(readCodeFile(piped, KEY), { miss: /not a file/ }, 'a named pipe is refused, not waited on (the open would block until a writer came)');
  t.throws(() => writeCodeFile(big, KEY, { byteLength: MAX_CODE_BYTES + 1 } as Uint8Array), /over/, 'nor written');
});

t.test('refused below a folder others may write (they could swap the cache folder for their own)', async (t) => {
  const parent = tempDir(t); // in the sticky, world-writable /tmp: fine, no one can rename it there
  const root = join(parent, 'opcache');
  mkdirSync(root, { mode: 0o700 });
  writeCodeFile(root, KEY, CODE);
  t.ok('code' in readCodeFile(root, KEY), 'under a sticky /tmp: read');
  chmodSync(parent, 0o777);
  t.match(readCodeFile(root, KEY), { miss: new RegExp(`${parent}: others may write it \\(mode 777\\)`) }, 'a world-writable folder above');
  chmodSync(parent, 0o1777);
  t.ok('code' in readCodeFile(root, KEY), 'the same, sticky: read');
  chmodSync(parent, 0o770);
  t.match(readCodeFile(root, KEY), { miss: /others may write it \(mode 770\)/ }, 'a group-writable folder above');
  chmodSync(parent, 0o700);
});

t.test('older files of other keys are pruned to three; stale temporary files go', async (t) => {
  const root = cacheRoot(t);
  const keys = [1, 2, 3, 4, 5].map((n) => codeKey(new Uint8Array([n])));
  keys.forEach((key, i) => {
    const path = writeCodeFile(root, key, CODE);
    const at = Date.now() / 1000 - 100 + i; // later keys newer
    utimesSync(path, at, at);
  });
  const folder = join(root, CODE_FOLDER);
  const stale = join(folder, `${KEY}.bin.abc.tmp`);
  const fresh = join(folder, `${KEY}.bin.def.tmp`);
  writeFileSync(stale, '');
  writeFileSync(fresh, '');
  utimesSync(stale, Date.now() / 1000 - 7200, Date.now() / 1000 - 7200);
  writeCodeFile(root, KEY, CODE);
  const left = readdirSync(folder).sort();
  t.same(left, [`${KEY}.bin`, `${KEY}.bin.def.tmp`, ...keys.slice(2).map((k) => `${k}.bin`)].sort(), 'the current one, the three newest others, a write that may be in progress');
  t.notOk(existsSync(stale));
  t.ok(readFileSync(join(folder, `${KEY}.bin`)).byteLength > CODE.byteLength);
});

t.test('only a configured folder keeps code, and PHP folders go along for the overlap check', async (t) => {
  t.equal(codeCacheLocation({ docroot: '/srv/site', mountHosts: [] }), undefined);
  t.same(codeCacheLocation({ opcacheFileCache: '/var/cache/pws', docroot: '/srv/site', mountHosts: ['/srv/up'], sessionDir: '/srv/sess' }), {
    root: '/var/cache/pws',
    phpFolders: ['/srv/site', '/srv/up', '/srv/sess'],
  });
});

t.test('the loader ignores a cache folder PHP can write (checked before the server checks its settings)', async (t) => {
  const mounted = tempDir(t);
  const root = join(mounted, 'opcache');
  mkdirSync(root, { mode: 0o700 });
  const { origin } = await loadPhpModule('8.3', { root, phpFolders: [mounted] });
  t.match(origin, { loadedFromCache: false, cacheMiss: new RegExp(`overlaps ${mounted}, which PHP can write`) });
  const { origin: apart } = await loadPhpModule('8.3', { root, phpFolders: [tempDir(t)] });
  t.match(apart.cacheMiss, /none yet|no calls/, 'apart from PHP\'s folders it is looked in');
});

t.test("php.wasm's loader is found where @php-wasm/node finds it, for every PHP version (without importing @php-wasm/node)", async (t) => {
  const { getPHPLoaderModule } = await import('@php-wasm/node');
  for (const version of PHP_VERSIONS) {
    const ours = await phpLoaderModule(version);
    const theirs = (await getPHPLoaderModule(version)) as { dependencyFilename: string };
    t.equal(ours.dependencyFilename, theirs.dependencyFilename, version);
  }
});
