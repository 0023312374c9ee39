/**
 * The kept warm image's files (pool/kept-image.ts) without PHP: its key, what a start finds (only a
 * whole image, described for this key, in a folder only the server's user can write), and what is
 * removed and pruned.
 */
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { describeKeptImage, findKeptImage, IMAGE_FOLDER, iniAllowsKeptImages, keptImageKey, keptImageTmpPath, placeKeptPages, removeKeptImage, type KeptImages, type KeyedBoot } from '../server/pool/kept-image.js';
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

/** Places and describes an image, as the pool does once a worker wrote it; the pages' path. */
function commitKeptImage(store: KeptImages, key: string, tmp: string, meta: WarmImageMeta, opcacheMb: number | null): string {
  const path = placeKeptPages(store, key, tmp, meta);
  describeKeptImage(store, key, path, meta, opcacheMb);
  return path;
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
  const changes: Record<string, Partial<KeyedBoot>> = {
    phpIni: { phpIni: 'opcache.enable=0\n' }, docroot: { docroot: '/srv/other' }, env: { env: { A: '2' } }, phpVersion: { phpVersion: '8.4' },
    allowNetwork: { allowNetwork: ['example.com'] }, connectTo: { connectTo: { 'db:3306': '10.0.0.2:3306' } }, tmpSize: { tmpSize: 2 }, memoryCeiling: { memoryCeiling: 1 },
    mount: { mounts: [...BOOT.mounts, { host: '/srv/data', guest: '/data', readOnly: true }] },
  };
  for (const [name, change] of Object.entries(changes)) t.not(keptImageKey(store, { ...BOOT, ...change }), key, `another ${name}`);
  const twoVars = { ...BOOT, env: { A: '1', B: '2' } };
  t.equal(keptImageKey(store, { ...twoVars, env: { B: '2', A: '1' } }), keptImageKey(store, twoVars), 'the environment in another order: the same key');
});

t.test('the docroot and mounts are keyed by their real paths: a switched `current` symlink is another site', async (t) => {
  const store = kept(t);
  const sites = tempDir(t, 'pws-kept-sites-');
  for (const release of ['rel1', 'rel2']) mkdirSync(join(sites, release));
  symlinkSync('rel1', join(sites, 'current'));
  const viaLink = keptImageKey(store, { ...BOOT, docroot: join(sites, 'current') });
  t.equal(viaLink, keptImageKey(store, { ...BOOT, docroot: join(sites, 'rel1') }), 'the link and its target: one site');
  rmSync(join(sites, 'current'));
  symlinkSync('rel2', join(sites, 'current'));
  t.not(keptImageKey(store, { ...BOOT, docroot: join(sites, 'current') }), viaLink, 'switched: another key');
});

t.test('images are kept only while opcache compares files with their copies, and without preloading', async (t) => {
  t.ok(iniAllowsKeptImages('opcache.enable = 1\n'), 'the default: timestamps compared');
  t.ok(iniAllowsKeptImages('opcache.validate_timestamps = 0\nopcache.validate_timestamps = On\n'), 'the last line wins');
  t.notOk(iniAllowsKeptImages('opcache.validate_timestamps = 1\nopcache.validate_timestamps = 0\n'), 'an override to 0 (--ini)');
  t.notOk(iniAllowsKeptImages('opcache.validate_timestamps=off\n'));
  t.notOk(iniAllowsKeptImages('opcache.preload = "/docroot/preload.php"\n'), 'preloaded code is never compared');
  t.ok(iniAllowsKeptImages('opcache.preload = ""\n'), 'an empty preload is none');
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
  t.match(findKeptImage(store, key), { opcacheMb: 64, ref: { path: secondPath } }, 'the description names the newest');
  t.ok(existsSync(firstPath), "the key's older pages stay a while: another server of the site may be starting from them");
  const hoursAgo = Date.now() / 1000 - 7200;
  utimesSync(firstPath, hoursAgo, hoursAgo);
  const third = writtenImage(store, key, 1, 3);
  const thirdPath = commitKeptImage(store, key, third.tmp, third.meta, 64);
  t.notOk(existsSync(firstPath), 'pages no description names go once old');
  t.ok(existsSync(secondPath), 'younger ones stay');
  removeKeptImage(store, key, secondPath);
  t.match(findKeptImage(store, key), { ref: { path: thirdPath } }, 'removing pages the description does not name leaves it');
  removeKeptImage(store, key, thirdPath);
  t.same(readdirSync(join(store.root, IMAGE_FOLDER)), [], 'both files gone');
});

t.test('a written image that is not the one described is refused before it is placed', async (t) => {
  const store = kept(t);
  const key = keptImageKey(store, BOOT);
  const { tmp, meta } = writtenImage(store, key);
  t.throws(() => placeKeptPages(store, key, tmp, { ...meta, runs: [{ first: 2, count: 4 }] }), /holds 12288 bytes, not 16384/);
  t.throws(() => placeKeptPages(store, key, tmp, { ...meta, sha256: undefined }), /without its hash/);
  t.ok(existsSync(tmp), 'left where it was');
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

t.test("the pool's images and the kept folder's failures: a refused folder, a description that cannot be written, a worker's failed write", async (t) => {
  const { WarmImages } = await import('../server/pool/warm-images.js');
  const pino = (await import('pino')).default;
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>); } });
  const keptAs = { boot: BOOT, opcacheMb: 32 };

  // The folder turns untrusted between the write and the commit: the file goes, no image this time.
  const store = kept(t);
  const images = new WarmImages(true, log, store);
  const path = images.wanted('k', 1, keptAs)!;
  t.ok(path.startsWith(join(store.root, IMAGE_FOLDER)), 'written into the kept folder');
  const { meta } = writtenImage(store, keptImageKey(store, BOOT));
  writeFileSync(path, Buffer.alloc(3 * IMAGE_PAGE_BYTES, 7));
  chmodSync(join(store.root, IMAGE_FOLDER), 0o770);
  images.written({ path, meta });
  t.equal(images.forBoot('k'), undefined, 'no image');
  t.notOk(existsSync(path), 'its file removed');
  t.ok(lines.some((line) => /cannot be kept for the next start/.test(String(line.msg))), 'said so');
  chmodSync(join(store.root, IMAGE_FOLDER), 0o700);
  const next = images.wanted('k', 2, keptAs)!;
  t.notOk(next.startsWith(store.root), 'the next image goes to the temp folder');
  images.close();

  // The description cannot be written: the image serves this run, and goes with it.
  const store2 = kept(t);
  const images2 = new WarmImages(true, log, store2);
  const path2 = images2.wanted('k', 1, keptAs)!;
  const written2 = writtenImage(store2, keptImageKey(store2, BOOT));
  rmSync(written2.tmp);
  writeFileSync(path2, Buffer.alloc(3 * IMAGE_PAGE_BYTES, 7));
  mkdirSync(join(store2.root, IMAGE_FOLDER, `${keptImageKey(store2, BOOT)}.json`));
  images2.written({ path: path2, meta: written2.meta });
  const ref = images2.forBoot('k');
  t.ok(ref && existsSync(ref.path), 'this run has its image');
  t.match(findKeptImage(store2, keptImageKey(store2, BOOT)), { miss: /not a file/ }, 'no start finds it');
  images2.close();
  t.notOk(existsSync(ref!.path), 'gone with the run');

  // A worker could not write into the kept folder (a full disk): images go on, in the temp folder.
  const store3 = kept(t);
  const images3 = new WarmImages(true, log, store3);
  const path3 = images3.wanted('k', 1, keptAs)!;
  images3.written({ path: path3, error: 'ENOSPC: no space left on device' });
  const retry = images3.wanted('k', 2, keptAs);
  t.ok(retry && !retry.startsWith(store3.root), 'the next worker writes its image to the temp folder');
  images3.close();
});
