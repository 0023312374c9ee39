import { wasmCodeCalls } from '../php-wasm/v8-wasm-code.js';

/**
 * Functions php.wasm exports that every PHP request runs hot (hash lookups, the allocator, string
 * compares): once V8 has optimised one, the module holds optimised code, which serialising needs
 * (without any, V8 aborts the process instead of failing; see v8-wasm-code.ts).
 */
export const HOT_EXPORTS = ['zend_hash_find', 'zend_hash_str_find', 'zend_hash_index_find', '_emalloc', '_efree', 'memcmp', 'strlen', 'malloc', 'free'];

/**
 * Whether V8 runs optimised code for one of the hot exports of this instance (its own, unwrapped
 * exports: Emscripten's wrappers are JavaScript), or why this thread cannot tell.
 */
export function holdsOptimizedCode(exports: WebAssembly.Exports): boolean | string {
  const calls = wasmCodeCalls();
  if (typeof calls === 'string') return calls;
  return HOT_EXPORTS.some((name) => {
    const exported = exports[name];
    return exported instanceof Function && calls.isOptimized(exported as () => unknown);
  });
}
