/**
 * The getcontext wrapper by itself (the real php.wasm path is in http-response-head.test.ts): it only
 * replaces an import that exists, and a build lacking the exports it needs keeps Emscripten's abort.
 */
import t from 'tap';
import { fiberStartAsFatalError } from '../server/sandbox/fiber-start-fatal.js';

t.test('imports without getcontext are returned as they are', async (t) => {
  const imports = { env: { other: () => 0 } };
  t.equal(fiberStartAsFatalError(imports, () => ({})), imports);
});

t.test('without zend_error, the stack allocator or the memory export, the original stub runs', async (t) => {
  const stub = () => {
    throw new Error('aborted');
  };
  const wrapped = fiberStartAsFatalError({ env: { getcontext: stub, other: 1 } }, () => ({}));
  const env = wrapped.env as Record<string, unknown>;
  t.equal(env.other, 1, 'the other imports are kept');
  t.throws(() => (env.getcontext as () => void)(), /aborted/);
});

t.test('with them, the message goes on the stack and zend_error gets E_ERROR and its address', async (t) => {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const calls: number[][] = [];
  const exports = {
    memory,
    _emscripten_stack_alloc: (bytes: number) => 4096 - ((bytes + 15) & ~15),
    zend_error: (...args: number[]) => {
      calls.push(args);
      return 0;
    },
  } as unknown as WebAssembly.Exports;
  const wrapped = fiberStartAsFatalError({ env: { getcontext: () => 0 } }, () => exports);
  t.throws(() => ((wrapped.env as Record<string, unknown>).getcontext as () => void)(), /returned/, 'a zend_error that returns is not taken for success');
  t.equal(calls.length, 1);
  const [type, format] = calls[0];
  t.equal(type, 1, 'E_ERROR');
  const bytes = new Uint8Array(memory.buffer, format);
  const text = new TextDecoder().decode(bytes.subarray(0, bytes.indexOf(0)));
  t.match(text, /^Fiber cannot start/);
  t.notMatch(text, /%/, 'no printf conversion in the format');
});
