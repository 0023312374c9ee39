/**
 * When php.wasm's machine code is saved: only while the pool is quiet, only once a worker says V8
 * runs optimised code (serialising a module with none aborts the process), the second save only
 * after SECOND_SAVE_AFTER_REQUESTS more requests, and never more than twice. A real module and real
 * files; the pool's answers are scripted, since they are what is under test.
 */
import { chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { wasmCodeCalls } from '../server/php-wasm/v8-wasm-code.js';
import { CODE_FOLDER, codeKey, readCodeFile } from '../server/wasm-code-cache/cache-file.js';
import { CodeCacheWriter, SECOND_SAVE_AFTER_REQUESTS, type CodeSource } from '../server/wasm-code-cache/code-writer.js';
import { captureLogger, tempDir } from './helpers/server.js';
import { until } from './helpers/until.js';

/** (module (func (export "count") (param i32) (result i32) a loop counting to its argument)) */
const WIRE = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 6, 1, 0x60, 1, 0x7f, 1, 0x7f, 3, 2, 1, 0, 7, 9, 1, 5, 0x63, 0x6f, 0x75, 0x6e, 0x74, 0, 0,
  0x0a, 0x19, 1, 0x17, 1, 1, 0x7f, 3, 0x40, 0x20, 1, 0x41, 1, 0x6a, 0x21, 1, 0x20, 1, 0x20, 0, 0x48, 0x0d, 0, 0x0b, 0x20, 1, 0x0b]);
const KEY = codeKey(WIRE);

/** The pool as the writer sees it, set by the test. */
class ScriptedPool implements CodeSource {
  isQuiet = true;
  dispatched = 0;
  optimized: boolean | string = false;
  probes = 0;
  quiet(): boolean { return this.isQuiet; }
  requestsDispatched(): number { return this.dispatched; }
  async probeOptimizedCode(): Promise<boolean | string> { this.probes++; return this.optimized; }
}

function privateRoot(t: Parameters<typeof tempDir>[0]): string {
  const root = tempDir(t);
  chmodSync(root, 0o700);
  return root;
}

const calls = wasmCodeCalls();

if (typeof calls === 'string') {
  t.test('a Node without the calls: the writer gives up at once and says why', async (t) => {
    const root = privateRoot(t);
    const { log, logs } = captureLogger();
    const pool = new ScriptedPool();
    const writer = new CodeCacheWriter(root, new WebAssembly.Module(WIRE), KEY, false, pool, log);
    await writer.check();
    t.equal(pool.probes, 0, 'no worker asked');
    t.match(logs.find((line) => String(line.msg).includes('not saved')), { level: 30, reason: /no calls/ });
    t.notOk(existsSync(join(root, CODE_FOLDER)));
  });
} else {
  /** A module V8 has optimised code for (serialising one without any aborts the process). */
  const optimisedModule = async (): Promise<WebAssembly.Module> => {
    const module = new WebAssembly.Module(WIRE);
    const count = new WebAssembly.Instance(module).exports.count as (n: number) => number;
    await until('V8 to optimise the function', () => {
      for (let i = 0; i < 100; i++) count(1000);
      return calls.isOptimized(count);
    }, 60_000);
    return module;
  };

  t.test('saved only when quiet and optimised; the second after more requests since the first; twice at most', async (t) => {
    const module = await optimisedModule();
    const root = privateRoot(t);
    const { log, logs } = captureLogger();
    const pool = new ScriptedPool();
    const writer = new CodeCacheWriter(root, module, KEY, false, pool, log);
    const saves = () => logs.filter((line) => String(line.msg).startsWith("saved php.wasm's optimised machine code")).length;

    pool.isQuiet = false;
    await writer.check();
    t.equal(pool.probes, 0, 'busy: no worker is even asked');
    pool.isQuiet = true;
    pool.optimized = false;
    await writer.check();
    t.equal(pool.probes, 1, 'quiet: a worker is asked');
    t.equal(saves(), 0, 'it says nothing is optimised yet: not saved (serialising would abort the process)');
    pool.optimized = 'no idle worker';
    await writer.check();
    t.equal(saves(), 0, 'it cannot tell: not saved');

    pool.optimized = true;
    pool.dispatched = 1000; // requests before the first save do not count toward the second
    await writer.check();
    t.equal(saves(), 1, 'optimised: saved');
    t.ok('code' in readCodeFile(root, KEY), 'a file the next start can load');

    pool.dispatched += SECOND_SAVE_AFTER_REQUESTS - 1;
    await writer.check();
    t.equal(saves(), 1, `${SECOND_SAVE_AFTER_REQUESTS - 1} requests after the first: not yet`);
    pool.dispatched += 1;
    await writer.check();
    t.equal(saves(), 2, `${SECOND_SAVE_AFTER_REQUESTS} after the first: saved again`);
    const probes = pool.probes;
    pool.dispatched += 10 * SECOND_SAVE_AFTER_REQUESTS;
    await writer.check();
    t.equal(saves(), 2, 'never a third');
    t.equal(pool.probes, probes, 'nor asked again');
  });

  t.test('a process that started from a saved file saves once more, after the requests since the start', async (t) => {
    const module = new WebAssembly.Module(WIRE);
    const root = privateRoot(t);
    const { log, logs } = captureLogger();
    const pool = new ScriptedPool();
    pool.optimized = false; // not optimised here: nothing may be serialised even when due
    const writer = new CodeCacheWriter(root, module, KEY, true, pool, log);
    pool.dispatched = SECOND_SAVE_AFTER_REQUESTS - 1;
    await writer.check();
    t.equal(pool.probes, 0, 'not due yet');
    pool.dispatched += 1;
    await writer.check();
    t.equal(pool.probes, 1, 'due: a worker is asked');
    t.equal(logs.filter((line) => String(line.msg).startsWith('saved')).length, 0, 'and without optimised code nothing is saved');
  });

  t.test('a write that fails gives up with a warning, once', async (t) => {
    const module = await optimisedModule();
    const root = tempDir(t);
    chmodSync(root, 0o755); // others may read it: the writer refuses to write code there
    const { log, logs } = captureLogger();
    const pool = new ScriptedPool();
    pool.optimized = true;
    const writer = new CodeCacheWriter(root, module, KEY, false, pool, log);
    await writer.check();
    await writer.check();
    t.equal(pool.probes, 1, 'not tried again');
    t.match(logs.filter((line) => String(line.msg).includes('not saved')), [{ level: 40, reason: /others may read or write/ }]);
  });
}
