/**
 * The in-memory static file cache: real files, real HTTP; and the same validators as @fastify/send.
 */
import { rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { isNotModified, StaticCache } from '../server/static-cache.js';
import { startTestServer, tempDir } from './helpers/server.js';

const options = { maxFileBytes: 1024, maxTotalBytes: 2048, revalidateMs: 1000 };

t.test('keeps small files in memory and re-reads them when they change on disk', async (t) => {
  const root = tempDir(t);
  writeFileSync(join(root, 'a.css'), 'body{}');
  const cache = new StaticCache(root, options);
  const first = cache.get('a.css', 0)!;
  t.equal(first.body.toString(), 'body{}');
  t.equal(first.contentType, 'text/css; charset=utf-8');
  t.match(first.etag, /^W\/"6-[0-9a-f]+"$/);
  writeFileSync(join(root, 'a.css'), 'body{color:red}');
  utimesSync(join(root, 'a.css'), new Date(), new Date(Date.now() + 5000));
  t.equal(cache.get('a.css', 500)!.body.toString(), 'body{}', 'within revalidateMs: memory, no disk access');
  const later = cache.get('a.css', 1500)!;
  t.equal(later.body.toString(), 'body{color:red}', 'after revalidateMs: the change is seen');
  t.not(later.etag, first.etag, 'with a new ETag');
});

t.test('large, missing and non-files are not cached; the total stays bounded', async (t) => {
  const root = tempDir(t);
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(2000));
  const cache = new StaticCache(root, options);
  t.equal(cache.get('big.bin', 0), null, 'over maxFileBytes');
  t.equal(cache.get('missing.txt', 0), null);
  t.equal(cache.get('', 0), null, 'a directory');
  for (const name of ['1', '2', '3']) writeFileSync(join(root, name), Buffer.alloc(900, name));
  for (const name of ['1', '2', '3']) cache.get(name, 0);
  writeFileSync(join(root, '1'), Buffer.alloc(900, 'x'));
  t.equal(cache.get('1', 10)!.body[0], 'x'.charCodeAt(0), 'the oldest entry was evicted (re-read from disk though still fresh)');
});

t.test('isNotModified: If-None-Match (weak) wins over If-Modified-Since', async (t) => {
  const file = { body: Buffer.alloc(0), etag: 'W/"6-abc"', lastModified: new Date(1_000_000_000_000).toUTCString(), mtimeMs: 0, contentType: 'text/plain' };
  t.ok(isNotModified({ 'if-none-match': 'W/"6-abc"' }, file));
  t.ok(isNotModified({ 'if-none-match': '"6-abc"' }, file), 'weak comparison');
  t.ok(isNotModified({ 'if-none-match': '"x", W/"6-abc"' }, file), 'a list');
  t.ok(isNotModified({ 'if-none-match': '*' }, file));
  t.notOk(isNotModified({ 'if-none-match': '"other"', 'if-modified-since': new Date(2_000_000_000_000).toUTCString() }, file), 'If-Modified-Since ignored beside If-None-Match');
  t.ok(isNotModified({ 'if-modified-since': new Date(2_000_000_000_000).toUTCString() }, file));
  t.notOk(isNotModified({ 'if-modified-since': new Date(1).toUTCString() }, file));
  t.notOk(isNotModified({ 'if-modified-since': 'garbage' }, file));
  t.notOk(isNotModified({}, file));
});

t.test('a file swapped for a symlink to the outside is refused, even within the cache window', async (t) => {
  const root = tempDir(t);
  const outside = tempDir(t);
  writeFileSync(join(outside, 'secret.txt'), 'host secret');
  writeFileSync(join(root, 'x.txt'), 'public');
  const server = await startTestServer({ docroot: root, workers: 1, statCache: 60 });
  t.teardown(() => server.close());
  t.equal(await (await fetch(`${server.url}/x.txt`, { headers: { range: 'bytes=0-5' } })).text(), 'public', 'routed and served once');
  rmSync(join(root, 'x.txt'));
  symlinkSync(join(outside, 'secret.txt'), join(root, 'x.txt'));
  for (const headers of [{}, { range: 'bytes=0-5' }] as Array<Record<string, string>>) {
    const response = await fetch(`${server.url}/x.txt`, { headers });
    const body = await response.text();
    t.equal(response.status, 404, `refused (${JSON.stringify(headers)})`);
    t.notMatch(body, /secret/);
  }
});

t.test('over HTTP: cached and @fastify/send responses carry the same validators', async (t) => {
  const root = tempDir(t);
  writeFileSync(join(root, 'app.js'), 'console.log(1);\n');
  const server = await startTestServer({ docroot: root, workers: 1 });
  t.teardown(() => server.close());
  const plain = await fetch(`${server.url}/app.js`);
  t.equal(await plain.text(), 'console.log(1);\n');
  t.equal(plain.headers.get('content-type'), 'text/javascript; charset=utf-8');
  t.equal(plain.headers.get('accept-ranges'), 'bytes');
  const ranged = await fetch(`${server.url}/app.js`, { headers: { range: 'bytes=0-6' } });
  t.equal(ranged.status, 206, 'Range goes to @fastify/send');
  t.equal(await ranged.text(), 'console');
  t.equal(ranged.headers.get('etag'), plain.headers.get('etag'), 'same ETag');
  t.equal(ranged.headers.get('last-modified'), plain.headers.get('last-modified'), 'same Last-Modified');
  const again = await fetch(`${server.url}/app.js`, { headers: { 'if-none-match': plain.headers.get('etag')! } });
  t.equal(again.status, 304);
  const head = await fetch(`${server.url}/app.js`, { method: 'HEAD' });
  t.equal(head.headers.get('content-length'), '16');
  t.equal((await head.arrayBuffer()).byteLength, 0, 'HEAD has no body');
});
