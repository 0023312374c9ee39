/**
 * The guest's /tmp (in the worker's memory): a quota (--tmp-size, ENOSPC past it) and emptied after
 * every request, so one request never reads what another left there and memory does not pile up.
 * Real php.wasm over real HTTP.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { loadConfig } from '../server/config/load.js';
import { validateSettings } from '../server/config/validate.js';
import { ConfigError } from '../server/config/coerce.js';
import { projectRoot } from '../server/paths.js';
import { startTestServer } from './helpers/server.js';

const MB = 1024 * 1024;
type Answer = { pid: number; tmp: string[]; results: Array<number | boolean>; error: string | null; files?: Record<string, { error: number; size: number; in_tmp: boolean; same: boolean }> };

t.test('one worker: /tmp is emptied between requests, has a quota, and takes an upload of --max-body', async (t) => {
  const server = await startTestServer({ workers: 1, tmpSize: 8 * MB, maxBody: 6 * MB });
  t.teardown(() => server.close());
  const ask = async (query: string, init?: RequestInit): Promise<Answer> => {
    const response = await fetch(`${server.url}/tmp-area.php?${query}`, init);
    t.equal(response.status, 200, query);
    return (await response.json()) as Answer;
  };

  const atBoot = (await ask('')).tmp;
  const wrote = await ask('do=w:secret.txt:1,d:nested');
  t.same(wrote.results, [MB, true]);
  t.ok(wrote.tmp.includes('secret.txt') && wrote.tmp.includes('nested'), 'the request sees its own files');
  const next = await ask('');
  t.equal(next.pid, wrote.pid, 'same worker');
  t.same(next.tmp, atBoot, 'the next request finds /tmp as it was at boot: nothing of the earlier request');

  const full = await ask('do=w:big.bin:9');
  t.same(full.results, [false], 'a file past the quota is refused');
  t.match(full.error, /No space left on device/, 'with ENOSPC, as a full disk answers');
  t.same((await ask('do=w:a.bin:5,w:b.bin:5')).results, [5 * MB, false], 'files of one request count together');
  t.same((await ask('do=w:a.bin:5,u:a.bin,w:b.bin:5')).results, [5 * MB, true, 5 * MB], 'a deleted file frees its space');
  t.same((await ask('do=w:c.bin:7')).results, [7 * MB], 'earlier requests left nothing that counts');
  t.same((await ask('do=t:sparse.bin:9')).results, [false], 'ftruncate cannot grow a file past the quota either');

  const upload = Buffer.alloc(5 * MB + 123, 7);
  const form = new FormData();
  form.set('md5', createHash('md5').update(upload).digest('hex'));
  form.set('file', new Blob([upload]), 'upload.bin');
  const uploaded = await ask('', { method: 'POST', body: form });
  t.same(uploaded.files?.file, { error: 0, size: upload.length, in_tmp: true, same: true }, 'an upload near --max-body fits in /tmp');
  t.same((await ask('')).tmp, atBoot, 'and is gone after its request');
});

t.test('--tmp-size below --max-body is a config error naming both', async (t) => {
  const { config } = loadConfig({ argv: ['--tmp-size', '16M', '--max-body', '32M'], env: {}, cwd: projectRoot });
  let error: unknown;
  try {
    validateSettings(config);
  } catch (caught) {
    error = caught;
  }
  t.ok(error instanceof ConfigError, 'refused before anything boots');
  t.match((error as Error).message, /tmpSize[\s\S]*maxBody/);
});
