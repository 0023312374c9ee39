/**
 * The pool and a kept warm image (pool/kept-image.ts), with fake workers: the first worker is given
 * the image the last run kept for these settings, and opcache starts at the size that image has,
 * when the pool's sizing can take it.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import pino from 'pino';
import t, { type Test } from 'tap';
import { describeKeptImage, keptImageKey, keptImageTmpPath, placeKeptPages, type KeptImages } from '../server/pool/kept-image.js';
import type { WarmImageMeta } from '../server/pool/warm-image.js';
import { closeFakePool, FAKE_BOOT, fakePool } from './helpers/fake-workers.js';
import { tempDir } from './helpers/server.js';

const sizedAt = (ini: string | undefined) => /opcache\.memory_consumption = (\d+)\n$/.exec(ini ?? '')?.[1];

/** A kept image of FAKE_BOOT's settings made with opcache at `opcacheMb`; its pages' path. */
function keptImage(t: Test, opcacheMb: number | null, boot = FAKE_BOOT): { kept: KeptImages; pages: string } {
  const root = tempDir(t, 'pws-kept-pool-');
  chmodSync(root, 0o700);
  const kept: KeptImages = { root, identity: 'fake-identity' };
  const key = keptImageKey(kept, boot);
  const tmp = keptImageTmpPath(kept, key);
  writeFileSync(tmp, Buffer.alloc(4096, 1), { mode: 0o600 });
  const meta: WarmImageMeta = { memoryBytes: 65536, bootedBytes: 65536, runs: [{ first: 0, count: 1 }], streams: [], globals: {}, tableLength: 1, sha256: 'a'.repeat(64) };
  const pages = placeKeptPages(kept, key, tmp, meta);
  describeKeptImage(kept, key, pages, meta, opcacheMb);
  return { kept, pages };
}

t.test("the first worker gets the kept image, and opcache starts at the size it was taken with", async (t) => {
  const { kept, pages } = keptImage(t, 64);
  const fake = fakePool({ log: pino({ level: 'silent' }), warmImages: true, keptImages: kept, opcacheGrowth: { startMb: 32, maxMb: 128 } });
  await fake.pool.start();
  const [first] = fake.workers;
  t.equal(fake.bootImages.get(first!.processId), pages, 'booted with the kept pages');
  t.equal(sizedAt(fake.phpIni.get(first!.processId)), '64', 'at the size the last run grew to');
  await closeFakePool(fake);
});

t.test('a kept image of a size the sizing cannot take, or of other settings, is not given', async (t) => {
  for (const [name, opcacheMb, growth] of [['beyond the ceiling', 512, { startMb: 32, maxMb: 128 }], ['below the start', 16, { startMb: 32, maxMb: 128 }], ['taken with the size php.ini set', null, { startMb: 32, maxMb: 128 }]] as const) {
    const { kept } = keptImage(t, opcacheMb);
    const fake = fakePool({ log: pino({ level: 'silent' }), warmImages: true, keptImages: kept, opcacheGrowth: growth });
    await fake.pool.start();
    const [first] = fake.workers;
    t.equal(fake.bootImages.get(first!.processId), undefined, `${name}: not given`);
    t.equal(sizedAt(fake.phpIni.get(first!.processId)), '32', `${name}: opcache at its usual start`);
    await closeFakePool(fake);
  }
  const { kept } = keptImage(t, 32, { ...FAKE_BOOT, phpIni: 'display_errors = 1\n' });
  const fake = fakePool({ log: pino({ level: 'silent' }), warmImages: true, keptImages: kept, opcacheGrowth: { startMb: 32, maxMb: 128 } });
  await fake.pool.start();
  t.equal(fake.bootImages.get(fake.workers[0]!.processId), undefined, 'other settings: not given');
  await closeFakePool(fake);
});

t.test('with php.ini setting the size, an image taken so is given as it is; with images off, none', async (t) => {
  const boot = { ...FAKE_BOOT, phpIni: 'opcache.memory_consumption = 48\n' };
  const { kept, pages } = keptImage(t, null, boot);
  const fake = fakePool({ log: pino({ level: 'silent' }), boot, warmImages: true, keptImages: kept });
  await fake.pool.start();
  t.equal(fake.bootImages.get(fake.workers[0]!.processId), pages);
  t.equal(fake.phpIni.get(fake.workers[0]!.processId), 'opcache.memory_consumption = 48\n', 'php.ini as the user wrote it');
  await closeFakePool(fake);

  const off = fakePool({ log: pino({ level: 'silent' }), boot, warmImages: false, keptImages: kept });
  await off.pool.start();
  t.equal(off.bootImages.get(off.workers[0]!.processId), undefined, '--worker-image false: not given');
  await closeFakePool(off);
});
