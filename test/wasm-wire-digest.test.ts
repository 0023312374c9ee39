/**
 * php.wasm's digest is remembered with the file's identity, so a restart names its cached code
 * without hashing the wire bytes: used only for the same file unchanged, in the private code folder.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { CODE_FOLDER, codeKey } from '../server/wasm-code-cache/cache-file.js';
import { memoName, rememberDigest, rememberedDigest } from '../server/wasm-code-cache/wire-digest.js';
import { loadPhpModule, phpLoaderModule } from '../server/pool/wasm-module.js';
import { changedLately, openWasm, readOpenedWasm } from '../server/pool/wasm-bytes.js';
import { wasmCodeCalls } from '../server/php-wasm/v8-wasm-code.js';
import { tempDir } from './helpers/server.js';

const DIGEST = 'a'.repeat(64);
/** Node 26's V8 has no calls for machine code: there the cache, and the memo with it, is never used. */
const noCalls = typeof wasmCodeCalls() === 'string';

function cacheRoot(t: Parameters<typeof tempDir>[0]): string {
  const root = tempDir(t);
  chmodSync(root, 0o700);
  return root;
}

t.test('a digest is given back only for the same file with the same identity', async (t) => {
  const root = cacheRoot(t);
  t.equal(rememberedDigest(root, '/x/php.wasm', '1:2:3:4:5'), undefined, 'nothing remembered yet');
  t.ok(rememberDigest(root, '/x/php.wasm', '1:2:3:4:5', DIGEST));
  t.equal(rememberedDigest(root, '/x/php.wasm', '1:2:3:4:5'), DIGEST);
  t.equal(rememberedDigest(root, '/x/php.wasm', '1:2:3:4:6'), undefined, 'another change time: hashed again');
  t.equal(rememberedDigest(root, '/y/php.wasm', '1:2:3:4:5'), undefined, 'another file');
  const memo = join(root, CODE_FOLDER, memoName('/x/php.wasm'));
  t.equal(statSync(memo).mode & 0o777, 0o600, 'private, as the code files');
  writeFileSync(memo, '{"path":"/x/php.wasm","identity":"1:2:3:4:5","sha256":"not hex"}');
  t.equal(rememberedDigest(root, '/x/php.wasm', '1:2:3:4:5'), undefined, 'a digest that is not one');
  writeFileSync(memo, '{broken');
  t.equal(rememberedDigest(root, '/x/php.wasm', '1:2:3:4:5'), undefined, 'unreadable');
});

t.test('memos of other files are pruned to the newest eight', async (t) => {
  const root = cacheRoot(t);
  for (let i = 0; i < 11; i++) {
    rememberDigest(root, `/v${i}/php.wasm`, '1:2:3:4:5', DIGEST);
    const at = Date.now() / 1000 - 100 + i; // later ones newer
    utimesSync(join(root, CODE_FOLDER, memoName(`/v${i}/php.wasm`)), at, at);
  }
  rememberDigest(root, '/current/php.wasm', '1:2:3:4:5', DIGEST);
  const left = readdirSync(join(root, CODE_FOLDER)).sort();
  t.same(left, ['/current/php.wasm', ...[3, 4, 5, 6, 7, 8, 9, 10].map((i) => `/v${i}/php.wasm`)].map(memoName).sort());
  t.equal(rememberedDigest(root, '/v2/php.wasm', '1:2:3:4:5'), undefined, 'an older one is gone: that file is hashed again');
});

t.test('a file changed within the last two seconds is not remembered (its timestamps may not show a write in the same tick)', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'php.wasm');
  writeFileSync(file, 'x');
  const opened = openWasm(file);
  t.ok(changedLately(opened, opened.changedAtMs + 1_999), 'changed within the last two seconds');
  t.ok(Math.abs(opened.changedAtMs - statSync(file).ctimeMs) < 1, 'the change time is the file\'s own');
  t.notOk(changedLately(opened, opened.changedAtMs + 2_000), 'still for two seconds');
  await readOpenedWasm(opened);
});

t.test('not read from, nor written to, a folder others may write', async (t) => {
  const root = cacheRoot(t);
  rememberDigest(root, '/x/php.wasm', '1:2:3:4:5', DIGEST);
  chmodSync(join(root, CODE_FOLDER), 0o777);
  t.equal(rememberedDigest(root, '/x/php.wasm', '1:2:3:4:5'), undefined);
  t.notOk(rememberDigest(root, '/x/php.wasm', '1:2:3:4:5', DIGEST), 'a refused write is reported, not thrown');
});

t.test('the bytes come with whether the file kept its identity while they were read', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'php.wasm');
  writeFileSync(file, Buffer.alloc(64 * 1024, 7));
  const kept = await readOpenedWasm(openWasm(file));
  t.equal(kept.bytes.byteLength, 64 * 1024);
  t.ok(kept.unchanged, 'untouched');
  const opened = openWasm(file);
  appendFileSync(file, 'x'); // written to between opening and reading
  const changed = await readOpenedWasm(opened);
  t.notOk(changed.unchanged, 'changed meanwhile: its digest is not remembered for the identity seen at the start');
  t.not(openWasm(file).identity, opened.identity, 'and the file has another identity now');
});

t.test('the loader remembers the digest, uses it at the next load, and names the same code either way', async (t) => {
  const root = cacheRoot(t);
  const location = { root, phpFolders: [tempDir(t)] };
  const wasmPath = (await phpLoaderModule('8.3')).dependencyFilename;
  const bytes = readFileSync(wasmPath);
  const first = await loadPhpModule('8.3', location);
  if (noCalls) {
    t.equal(first.origin.digestRemembered, undefined, 'no machine code to name here: nothing remembered');
    t.same(readdirSync(root), []);
    return;
  }
  t.equal(first.origin.digestRemembered, false, 'the first load hashes the bytes');
  t.equal(first.origin.key, codeKey(bytes));
  const memo = join(root, CODE_FOLDER, memoName(wasmPath));
  t.equal(JSON.parse(readFileSync(memo, 'utf8')).sha256, createHash('sha256').update(bytes).digest('hex'), 'and remembers their digest');
  const second = await loadPhpModule('8.3', location);
  t.equal(second.origin.digestRemembered, true, 'the next load takes it from the memo');
  t.equal(second.origin.key, first.origin.key, 'the same key');

  // What the memo says is what the key is made from (so it lives where only the server's user writes):
  const memoJson = JSON.parse(readFileSync(memo, 'utf8')) as { identity: string };
  writeFileSync(memo, JSON.stringify({ path: wasmPath, identity: memoJson.identity, sha256: DIGEST }), { mode: 0o600 });
  const trusted = await loadPhpModule('8.3', location);
  t.not(trusted.origin.key, first.origin.key, 'a memo for this identity is believed');
  writeFileSync(memo, JSON.stringify({ path: wasmPath, identity: `${memoJson.identity}0`, sha256: DIGEST }), { mode: 0o600 });
  const rehashed = await loadPhpModule('8.3', location);
  t.equal(rehashed.origin.digestRemembered, false, 'another identity: hashed again');
  t.equal(rehashed.origin.key, first.origin.key);
});

t.test('no memo in a cache folder PHP can write: none written, a planted one ignored', async (t) => {
  const mounted = tempDir(t);
  const root = join(mounted, 'opcache');
  mkdirSync(root, { mode: 0o700 });
  const { origin } = await loadPhpModule('8.3', { root, phpFolders: [mounted] });
  t.equal(origin.digestRemembered, undefined);
  t.match(origin.cacheMiss, noCalls ? /./ : /overlaps/);
  t.same(readdirSync(root), [], 'nothing written there');

  const wasmPath = (await phpLoaderModule('8.3')).dependencyFilename;
  const wasm = openWasm(wasmPath);
  const { bytes } = await readOpenedWasm(wasm);
  rememberDigest(root, wasm.path, wasm.identity, DIGEST); // as PHP could have written it
  const planted = await loadPhpModule('8.3', { root, phpFolders: [mounted] });
  t.equal(planted.origin.key, codeKey(bytes), 'the key comes from the bytes, not from the planted memo');
});
