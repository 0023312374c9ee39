/**
 * Compression over real HTTP against real php.wasm: br and gzip by Accept-Encoding with q-values,
 * Vary, streamed output that still flushes, PHP's own encoding left alone, static text from memory
 * and from disk, precompressed siblings, ranges never sliced from a compressed stream, and
 * --compress false.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, createBrotliDecompress, createGunzip, gunzipSync } from 'node:zlib';
import t from 'tap';
import { startTestServer, tempDir, type TestServer } from './helpers/server.js';

interface Raw { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }

/** A GET with exactly these headers (fetch would add Accept-Encoding and decode for us). */
function get(server: TestServer, path: string, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port: server.port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject).end();
  });
}

function decode(response: Raw): Buffer {
  const encoding = response.headers['content-encoding'];
  return encoding === 'br' ? brotliDecompressSync(response.body) : encoding === 'gzip' ? gunzipSync(response.body) : response.body;
}

const varies = (response: Raw) => /accept-encoding/i.test(String(response.headers.vary ?? ''));

let server: TestServer;
let root: string;
const STYLE = 'body { color: #333; margin: 0 auto; }\n'.repeat(200); // ~7 KB, kept in memory
const BIG = 'console.log("a line of a large script");\n'.repeat(20_000); // ~840 KB, served from disk
t.before(async () => {
  root = tempDir(t, 'pws-compress-');
  mkdirSync(join(root, 'docroot'));
  mkdirSync(join(root, 'data'));
  writeFileSync(join(root, 'docroot', 'style.css'), STYLE);
  writeFileSync(join(root, 'docroot', 'big.js'), BIG);
  writeFileSync(join(root, 'docroot', 'tiny.css'), 'a{}');
  writeFileSync(join(root, 'docroot', 'app.js'), 'identity app.js '.repeat(200));
  writeFileSync(join(root, 'docroot', 'app.js.br'), brotliCompressSync('precompressed app.js '.repeat(200)));
  writeFileSync(join(root, 'docroot', 'image.png'), Buffer.alloc(5000, 7));
  server = await startTestServer({ workers: 1, mounts: [{ host: join(root, 'data'), guest: '/data', readOnly: false }] });
});
t.teardown(() => server?.close());

t.test('PHP output: br or gzip as the client prefers (q-values), identity otherwise, always Vary', async (t) => {
  const identity = await get(server, '/server.php');
  t.equal(identity.headers['content-encoding'], undefined, 'no Accept-Encoding: identity');
  t.ok(varies(identity), 'Vary: Accept-Encoding even when not encoded');
  const plain = JSON.parse(identity.body.toString()).server.SCRIPT_NAME;
  for (const [accept, expected] of [['gzip, deflate, br', 'br'], ['gzip', 'gzip'], ['br;q=0, gzip;q=0.5', 'gzip'], ['br;q=0.2, gzip;q=0.9', 'gzip'], ['identity', undefined], ['deflate', undefined]] as const) {
    const response = await get(server, '/server.php', { 'accept-encoding': accept });
    t.equal(response.headers['content-encoding'], expected, `Accept-Encoding: ${accept}`);
    t.equal(JSON.parse(decode(response).toString()).server.SCRIPT_NAME, plain, `${accept}: decodes to the page`);
    t.ok(varies(response), `${accept}: Vary`);
    if (expected) t.ok(response.body.length < identity.body.length, `${accept}: smaller`);
  }
});

t.test('Accept-Encoding: * gets one of br or gzip', async (t) => {
  const response = await get(server, '/server.php', { 'accept-encoding': '*' });
  t.match(response.headers['content-encoding'], /^(br|gzip)$/);
  t.ok(JSON.parse(decode(response).toString()).server);
});

t.test("streamed output is encoded and still flushed: the first part arrives while PHP waits", async (t) => {
  const gate = join(root, 'data', 'gate');
  writeFileSync(gate, '');
  t.teardown(() => rmSync(gate, { force: true }));
  for (const encoding of ['br', 'gzip'] as const) {
    writeFileSync(gate, '');
    const done = new Promise<{ text: string; firstWhileWaiting: boolean }>((resolve, reject) => {
      request({ host: '127.0.0.1', port: server.port, path: '/flush-gate.php', headers: { 'accept-encoding': encoding } }, (res) => {
        if (res.headers['content-encoding'] !== encoding) return reject(new Error(`content-encoding ${res.headers['content-encoding']}`));
        const decoder = encoding === 'br' ? createBrotliDecompress() : createGunzip();
        let text = '';
        let firstWhileWaiting = false;
        decoder.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          if (text.includes('first:') && !text.includes('second') && !firstWhileWaiting) {
            firstWhileWaiting = true;
            rmSync(gate); // only now may the script finish
          }
        });
        decoder.on('end', () => resolve({ text, firstWhileWaiting }));
        decoder.on('error', reject);
        res.pipe(decoder);
      }).on('error', reject).end();
    });
    const { text, firstWhileWaiting } = await done;
    t.ok(firstWhileWaiting, `${encoding}: the flushed part was decodable before the script went on`);
    t.match(text, /^first:a+\nsecond$/, `${encoding}: the whole body`);
  }
});

t.test("what PHP encodes itself (ob_gzhandler) is not encoded twice", async (t) => {
  const response = await get(server, '/gzhandler.php', { 'accept-encoding': 'gzip' });
  t.equal(response.headers['content-encoding'], 'gzip');
  t.equal(gunzipSync(response.body).toString(), 'compressed by PHP '.repeat(500), 'one gunzip gives the text');
});

t.test('static text: encoded from memory and from disk; small or binary files and ranges are not', async (t) => {
  const docroot = join(root, 'docroot');
  const other = await startTestServer({ workers: 1, docroot, frontController: '' });
  t.teardown(() => other.close());
  for (const encoding of ['br', 'gzip']) {
    for (const [path, content] of [['/style.css', STYLE], ['/big.js', BIG]]) {
      const first = await get(other, path, { 'accept-encoding': encoding });
      t.equal(first.headers['content-encoding'], encoding, `${path} in ${encoding}`);
      t.equal(decode(first).toString(), content, `${path} decodes to the file`);
      t.ok(varies(first));
      const again = await get(other, path, { 'accept-encoding': encoding });
      t.equal(decode(again).toString(), content, `${path} again`);
    }
  }
  const tiny = await get(other, '/tiny.css', { 'accept-encoding': 'br' });
  t.equal(tiny.headers['content-encoding'], undefined, 'below the threshold: identity');
  const png = await get(other, '/image.png', { 'accept-encoding': 'br' });
  t.equal(png.headers['content-encoding'], undefined, 'images are not encoded');
  const ranged = await get(other, '/big.js', { 'accept-encoding': 'br', range: 'bytes=0-9' });
  t.equal(ranged.status, 206);
  t.equal(ranged.headers['content-encoding'], undefined, 'a range is cut from the identity file');
  t.equal(ranged.body.toString(), BIG.slice(0, 10));
});

t.test('a precompressed sibling (app.js.br) is served as it is, ranges included', async (t) => {
  const other = await startTestServer({ workers: 1, docroot: join(root, 'docroot'), frontController: '' });
  t.teardown(() => other.close());
  const br = await get(other, '/app.js', { 'accept-encoding': 'gzip, br' });
  t.equal(br.headers['content-encoding'], 'br');
  t.match(String(br.headers['content-type']), /javascript/, "typed as the file asked for, not as .br");
  t.equal(brotliDecompressSync(br.body).toString(), 'precompressed app.js '.repeat(200), 'the sibling, byte for byte');
  t.ok(varies(br));
  const gzipOnly = await get(other, '/app.js', { 'accept-encoding': 'gzip' });
  t.equal(decode(gzipOnly).toString(), 'identity app.js '.repeat(200), 'no .gz sibling: the file itself, encoded on the fly');
  const ranged = await get(other, '/app.js', { 'accept-encoding': 'br', range: 'bytes=0-3' });
  t.equal(ranged.status, 206);
  t.equal(ranged.headers['content-encoding'], 'br', 'the range is of the precompressed file');
  t.same(ranged.body, brotliCompressSync('precompressed app.js '.repeat(200)).subarray(0, 4));
});

t.test('--compress false: identity for everyone', async (t) => {
  const off = await startTestServer({ workers: 1, compress: false });
  t.teardown(() => off.close());
  const response = await get(off, '/server.php', { 'accept-encoding': 'br, gzip' });
  t.equal(response.headers['content-encoding'], undefined);
  t.ok(JSON.parse(response.body.toString()).server);
});
