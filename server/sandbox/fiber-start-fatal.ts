/**
 * PHP's Fiber switches C stacks with getcontext/makecontext/swapcontext, which php.wasm's builds do
 * not have: Emscripten's stubs abort the whole instance, so one `(new Fiber(...))->start()` killed the
 * worker (502, a replacement booted). Up to PHP 8.4 the server disables the class (disable_classes,
 * php-ini.ts) and a script gets an Error it can catch; PHP 8.5 removed that setting. So the first of
 * those calls, which Fiber::start() makes before any switch, becomes PHP's own fatal error instead:
 * zend_error(E_ERROR) logs it and unwinds to the request's frame as every fatal does, the client gets
 * 500, and the instance serves on.
 *
 * The message goes on the wasm stack, which that unwinding restores, so no address outlives the call
 * (a worker reset to the warm image gets other memory). The fiber's own stack, which PHP allocated
 * (libc memory, fiber.stack_size) just before this call, is never freed: php-ini.ts sets that size
 * below PHP's minimum, so Fiber::start() throws before allocating, and only a script that raised it
 * gets here. Memory-growth recycling bounds what such scripts keep.
 */
const E_ERROR = 1;
export const FIBER_START_MESSAGE = 'Fiber cannot start: php.wasm has no C stack switching (getcontext)';

type WasmCall = (...args: number[]) => number;

export function fiberStartAsFatalError(imports: WebAssembly.Imports, exportsOf: () => WebAssembly.Exports): WebAssembly.Imports {
  const env = imports.env as Record<string, WebAssembly.ImportValue>;
  const abortingStub = env.getcontext;
  if (typeof abortingStub !== 'function') return imports;
  const getcontext = (...args: number[]) => {
    const exports = exportsOf();
    const zendError = exports.zend_error as WasmCall | undefined;
    const stackAlloc = exports._emscripten_stack_alloc as WasmCall | undefined;
    const memory = exports.memory as WebAssembly.Memory | undefined;
    // A build without these keeps Emscripten's abort: the worker is replaced, as before.
    if (!zendError || !stackAlloc || !memory) return (abortingStub as WasmCall)(...args);
    const bytes = new TextEncoder().encode(`${FIBER_START_MESSAGE}\0`);
    const format = stackAlloc(bytes.length);
    new Uint8Array(memory.buffer, format, bytes.length).set(bytes);
    zendError(E_ERROR, format, 0); // no % in the message: zend_error's format takes no arguments
    throw new Error('zend_error(E_ERROR) returned instead of ending the request');
  };
  return { ...imports, env: { ...env, getcontext } };
}
