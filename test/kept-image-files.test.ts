/**
 * The kept warm image's files (pool/kept-image.ts) without PHP: its key, what a start finds (only a
 * whole image, described for this key, in a folder only the server's user can write), and what is
 * removed and pruned.
 */
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { commitKeptImage, findKeptImage, IMAGE_FOLDER, keptImageKey, keptImageTmpPath, removeKeptImage, type KeptImages, type KeyedBoot } from '../server/pool/kept-image.js';
import { IMAGE_PAGE_BYTES, imageFileMatches, type WarmImageMeta } from '../server/pool/warm-image.js';
import { tempDir } from './helpers/server.js';

const BOOT: KeyedBoot = {
  phpVersion: '8.3', docroot: '/srv/site', mounts: [{ host: '/srv/sessions-1', guest: '/var/lib/php/sessions', readOnly: false }], env: { A: '1' },
  phpIni: 'opcache.enable=1\n', allowNetwork: [], connectTo: {}, tmpSize: 1 << 20, memoryCeiling: null,
};

function kept(t: { teardown(fn: () => void): void }, unkeyedHosts: string[] = []): KeptImages {
  const root = tempDir(t, 'pws-kept-files-');
  chmodSync(root, 0o700);
  return { root, identity: 'identity-1', unkeyedHosts };
}

/** An image of `pages` pages written as a worker would, and its description. */
function writtenImage(store: KeptImages, key: string, pages = 3, fill = 7): { tmp: string; meta: WarmImageMeta } {
  const tmp = keptImageTmpPath(store, key);
  const bytes = Buffer.alloc(pages * IMAGE_PAGE_BYTES, fill);
  writeFileSync(tmp, bytes, { mode: 0o600 });
  const meta: WarmImageMeta = {
    memoryBytes: 16 * IMAGE_PAGE_BYTES, bootedBytes: 8 * IMAGE_PAGE_BYTES, runs: [{ first: 2, count: pages }], streams: [], globals: { __stack_pointer: '123' }, tableLength: 10,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
  return { tmp, meta };
}

t.test('the key names the code, php.wasm and the boot settings, not the fresh folders given as unkeyed', async (t) => {
  const store = kept(t, ['/srv/sessions-1', '/srv/sessions-2']);
  const key = keptImageKey(store, BOOT);
  t.match(key, /^[0-9a-f]{64}$/);
  t.equal(keptImageKey(store, { ...BOOT }), key, 'the same settings, the same key');
  t.equal(keptImageKey(store, { ...BOOT, mounts: [{ ...BOOT.mounts[0]!, host: '/srv/sessions-2' }] }), key, 'an unkeyed host folder changes nothing');
  t.not(keptImageKey({ ...store, unkeyedHosts: [] }, BOOT), key, 'a keyed host folder names the image');
  t.not(keptImageKey({ ...store, identity: 'identity-2' }, BOOT), key, 'other code or php.wasm');
  for (const [name, change] of Object.entries({ phpIni: { phpIni: 'opcache.enable=0\n' }, docroot: { docroot: '/srv/other' }, env: { env: { A: '2' } }, phpVersion: { phpVersion: '8.4' }, allowNetwork: { allowNetwork: ['example.com'] }, memoryCeiling: { memoryCeiling: 1 } } as Record<string, Partial<KeyedBoot>>)) {
    t.not(keptImageKey(store, { ...BOOT, ...change }), key, `another ${name}`);
  }
});

t.test('a committed image is found whole, with its hash and opcache size; nothing is found before', async (t) => {
  const store = kept(t);
  const key = keptImageKey(store, BOOT);
  t.match(findKeptImage(store, key), { miss: /none yet/ }, 'nothing kept yet');
  const { tmp, meta } = writtenImage(store, key);
  const path = commitKeptImage(store, key, tmp, meta, 64);
  t.notOk(existsSync(tmp), 'the temporary file became the pages');
  t.match(path, new RegExp(`${key}\\.[0-9a-f]{12}\\.pages$`));
  const found = findKeptImage(store, key);
  t.same(found, { ref: { path, meta, sha256: meta.sha256, kept: true }, opcacheMb: 64 });
  t.match(findKeptImage(store, keptImageKey(store, { ...BOOT, phpIni: 'x=1\n' })), { miss: /none yet/ }, 'other settings find nothing');

  const fd = openSync(path, 'r');
  t.ok(imageFileMatches(fd, 3 * IMAGE_PAGE_BYTES, meta.sha256!), 'the pages match their hash');
  t.notOk(imageFileMatches(fd, 2 * IMAGE_PAGE_BYTES, meta.sha256!), 'not another size');
  t.notOk(imageFileMatches(fd, 3 * IMAGE_PAGE_BYTES, '0'.repeat(64)), 'not another hash');
  closeSync(fd);
});

t.test('a start finds nothing in a cut file, a broken or foreign description, or a folder others may write', async (t) => {
  const store = kept(t);
  const key = keptImageKey(store, BOOT);
  const { tmp, meta } = writtenImage(store, key);
  const path = commitKeptImage(store, key, tmp, meta, null);
  const description = join(store.root, IMAGE_FOLDER, `${key}.json`);
  const original = readFileSync(description, 'utf8');

  truncateSync(path, IMAGE_PAGE_BYTES);
  t.match(findKeptImage(store, key), { miss: /4096 bytes, its description says 12288/ }, 'cut pages');
  truncateSync(path, 0);
  writeFileSync(path, Buffer.alloc(3 * IMAGE_PAGE_BYTES, 7));

  const variants: Array<[string, (stored: Record<string, unknown>) => unknown, RegExp]> = [
    ['another key', (d) => ({ ...d, key: 'f'.repeat(64) }), /other settings/],
    ['another format', (d) => ({ ...d, format: 99 }), /another version/],
    ['pages of another key', (d) => ({ ...d, pages: `${'f'.repeat(64)}.aaaaaaaaaaaa.pages` }), /pages file name/],
    ['a path for pages', (d) => ({ ...d, pages: `../${String(d.pages)}` }), /pages file name/],
    ['a malformed hash', (d) => ({ ...d, sha256: 'xyz' }), /hash is malformed/],
    ['a size that disagrees with the pages', (d) => ({ ...d, bytes: 5 }), /page list holds/],
    ['overlapping runs', (d) => ({ ...d, meta: { ...(d.meta as object), runs: [{ first: 2, count: 3 }, { first: 3, count: 1 }] } }), /page list is malformed/],
    ['a bad opcache size', (d) => ({ ...d, opcacheMb: -1 }), /opcache size/],
  ];
  for (const [name, change, reason] of variants) {
    writeFileSync(description, JSON.stringify(change(JSON.parse(original) as Record<string, unknown>)));
    t.match(findKeptImage(store, key), { miss: reason }, name);
  }
  writeFileSync(description, '{not json');
  t.match(findKeptImage(store, key), { miss: /unreadable/ }, 'a description that does not parse');
  writeFileSync(description, original);
  t.ok('ref' in findKeptImage(store, key), 'the original is found again');

  chmodSync(description, 0o644);
  t.match(findKeptImage(store, key), { miss: /others may read or write it/ }, 'a description others may read');
  chmodSync(description, 0o600);
  chmodSync(join(store.root, IMAGE_FOLDER), 0o770);
  t.match(findKeptImage(store, key), { miss: /others may read or write it/ }, 'a folder others may write');
  t.throws(() => keptImageTmpPath(store, key), /others may read or write it/, 'and nothing is written there');
  chmodSync(join(store.root, IMAGE_FOLDER), 0o700);

  const pagesName = JSON.parse(original).pages as string;
  writeFileSync(join(store.root, IMAGE_FOLDER, 'elsewhere'), Buffer.alloc(3 * IMAGE_PAGE_BYTES, 7), { mode: 0o600 });
  rmSync(path);
  symlinkSync('elsewhere', join(store.root, IMAGE_FOLDER, pagesName));
  t.match(findKeptImage(store, key), { miss: /a symbolic link/ }, 'pages that are a symbolic link');
});

t.test('removing drops the description with its pages; a newer image of the same key keeps its own', async (t) => {
  const store = kept(t);
  const key = keptImageKey(store, BOOT);
  const first = writtenImage(store, key, 2, 1);
  const firstPath = commitKeptImage(store, key, first.tmp, first.meta, 32);
  const second = writtenImage(store, key, 4, 2);
  const secondPath = commitKeptImage(store, key, second.tmp, second.meta, 64);
  t.not(secondPath, firstPath, 'each image has pages of its own name');
  t.notOk(existsSync(firstPath), "the key's older pages went");
  t.match(findKeptImage(store, key), { opcacheMb: 64, ref: { path: secondPath } });

  removeKeptImage(store, key, firstPath);
  t.ok('ref' in findKeptImage(store, key), 'removing older pages leaves the newer description');
  removeKeptImage(store, key, secondPath);
  t.same(readdirSync(join(store.root, IMAGE_FOLDER)), [], 'both files gone');
});

t.test('pruning keeps the two newest images of other keys, and removes abandoned temporary files', async (t) => {
  const store = kept(t);
  const keys = ['a', 'b', 'c', 'd'].map((phpIni) => keptImageKey(store, { ...BOOT, phpIni }));
  const hourAgo = Date.now() / 1000 - 7200;
  keys.forEach((key, i) => {
    const { tmp, meta } = writtenImage(store, key);
    const path = commitKeptImage(store, key, tmp, meta, null);
    const age = hourAgo + i * 60; // a is oldest
    utimesSync(path, age, age);
    utimesSync(join(store.root, IMAGE_FOLDER, `${key}.json`), age, age);
  });
  const abandoned = keptImageTmpPath(store, keys[0]!);
  writeFileSync(abandoned, 'x');
  utimesSync(abandoned, hourAgo, hourAgo);
  const fresh = keptImageTmpPath(store, keys[1]!);
  writeFileSync(fresh, 'x');

  const current = keptImageKey(store, { ...BOOT, phpIni: 'e' });
  const { tmp, meta } = writtenImage(store, current);
  commitKeptImage(store, current, tmp, meta, null);
  const left = readdirSync(join(store.root, IMAGE_FOLDER));
  const keysLeft = new Set(left.filter((name) => !name.endsWith('.tmp')).map((name) => name.slice(0, 64)));
  t.same([...keysLeft].sort(), [keys[2]!, keys[3]!, current].sort(), 'the current key and the two newest others');
  t.notOk(existsSync(abandoned), 'an abandoned write goes');
  t.ok(existsSync(fresh), 'a write that may still be under way stays');
  t.equal(statSync(join(store.root, IMAGE_FOLDER)).mode & 0o777, 0o700);
});
