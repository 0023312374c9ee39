/**
 * V8's calls for wasm machine code, on the Node running the tests: optimised code written out and
 * loaded back without compiling; wrong arguments refused in JavaScript (V8 would abort the process);
 * the natives syntax off again for all other code. Node 26 has no such calls: it says so.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import t from 'tap';
import { wasmCodeCalls } from '../server/php-wasm/v8-wasm-code.js';
import { until } from './helpers/until.js';

/** (module (func (export "count") (param i32) (result i32) a loop counting to its argument)) */
const WIRE = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 6, 1, 0x60, 1, 0x7f, 1, 0x7f, 3, 2, 1, 0, 7, 9, 1, 5, 0x63, 0x6f, 0x75, 0x6e, 0x74, 0, 0,
  0x0a, 0x19, 1, 0x17, 1, 1, 0x7f, 3, 0x40, 0x20, 1, 0x41, 1, 0x6a, 0x21, 1, 0x20, 1, 0x20, 0, 0x48, 0x0d, 0, 0x0b, 0x20, 1, 0x0b]);

const major = Number(process.versions.node.split('.')[0]);
const calls = wasmCodeCalls();

t.test('the natives syntax is off again for every other piece of code', async (t) => {
  t.throws(() => new Function('return %IsTurboFanFunction(1)'), SyntaxError);
});

if (major >= 26) {
  t.test("Node 26's V8 has no calls for wasm machine code: the server says why", async (t) => {
    t.type(calls, 'string');
    t.match(calls, /no calls for wasm machine code/);
  });
} else {
  t.test('optimised code written out and loaded back as a working module', async (t) => {
    if (typeof calls === 'string') throw new Error(calls);
    const module = new WebAssembly.Module(WIRE);
    const count = new WebAssembly.Instance(module).exports.count as (n: number) => number;
    t.equal(calls.isOptimized(count), false, 'not optimised before it ran');
    // V8 optimises a function in the background once it ran enough.
    await until('V8 to optimise the hot function', () => {
      for (let i = 0; i < 100; i++) count(1000);
      return calls.isOptimized(count);
    }, 60_000);
    const code = calls.serialize(module);
    t.ok(code.byteLength > 0);
    const loaded = calls.deserialize(code, WIRE);
    t.ok(loaded instanceof WebAssembly.Module);
    const again = new WebAssembly.Instance(loaded!).exports.count as (n: number) => number;
    t.equal(again(12345), 12345, 'it runs');
    t.equal(calls.isOptimized(again), true, 'optimised from the start: nothing compiled again');
    t.equal(calls.deserialize(new Uint8Array(code.byteLength), WIRE), undefined, 'zeros: V8 refuses, no abort');
  });

  t.test('wrong arguments are refused before they reach V8 (it would abort the process)', async (t) => {
    if (typeof calls === 'string') throw new Error(calls);
    t.throws(() => calls.isOptimized((() => 1) as () => unknown), TypeError, 'a JavaScript function');
    const named = { '0': () => 1 }['0'];
    t.throws(() => calls.isOptimized(named), TypeError, 'a JavaScript function named like a wasm export');
    t.throws(() => calls.serialize({} as WebAssembly.Module), TypeError, 'not a module');
  });

  t.test('the calls still work after V8 flushed their bytecode (a long-running server saves again later)', async (t) => {
    // V8 reparses a flushed function when it is next called, with the natives syntax off by then.
    const script = `
      import { wasmCodeCalls } from ${JSON.stringify(new URL('../server/php-wasm/v8-wasm-code.js', import.meta.url).href)};
      const calls = wasmCodeCalls();
      const count = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(${JSON.stringify([...WIRE])}))).exports.count;
      const answers = [calls.isOptimized(count)];
      for (let i = 0; i < 20; i++) { globalThis.gc(); await new Promise((resolve) => setImmediate(resolve)); }
      answers.push(calls.isOptimized(count), calls.deserialize(new Uint8Array(16), new Uint8Array(${JSON.stringify([...WIRE])})) === undefined);
      process.stdout.write(JSON.stringify(answers));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--stress-flush-code', '--flush-bytecode', '--input-type=module', '-e', script]);
    t.same(JSON.parse(stdout), [false, false, true]);
  });

  t.test('a worker thread gets the calls too (workers probe their own instance)', async (t) => {
    // Other bytes (it counts in twos): V8 shares a module compiled from the same bytes across threads, optimised code included.
    const wire = Uint8Array.from(WIRE);
    wire[wire.indexOf(0x41) + 1] = 2;
    const worker = new Worker(`
      const { parentPort } = require('node:worker_threads');
      import(${JSON.stringify(new URL('../server/php-wasm/v8-wasm-code.js', import.meta.url).href)}).then(({ wasmCodeCalls }) => {
        const calls = wasmCodeCalls();
        const count = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(${JSON.stringify([...wire])}))).exports.count;
        let natives = 'off';
        try { new Function('return %IsTurboFanFunction(1)'); natives = 'on'; } catch {}
        parentPort.postMessage({ kind: typeof calls, optimized: typeof calls === 'string' ? calls : calls.isOptimized(count), natives });
      });
    `, { eval: true });
    const answer = await new Promise<{ kind: string; optimized: unknown; natives: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    t.same(answer, { kind: 'object', optimized: false, natives: 'off' });
  });
}
