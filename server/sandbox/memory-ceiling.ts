/**
 * php.ini's memory_limit as a ceiling scripts cannot lift (php-fpm's php_admin_value): PHP itself
 * lets any script call ini_set('memory_limit', '-1'). The ceiling sits below PHP, on the growth of
 * the instance's wasm memory: Emscripten asks the host through one import, emscripten_resize_heap,
 * and a refusal makes malloc fail, which PHP reports as its ordinary "Out of memory" fatal error
 * (the request ends with 500; the instance stays usable).
 */
export interface MemoryCeiling {
  /** The wasm imports with the resize call gated (pass them to WebAssembly.instantiate). */
  gate(imports: WebAssembly.Imports): WebAssembly.Imports;
  /** From now on, memory may not grow past `bytes` (total wasm memory). */
  set(bytes: number): void;
  /** Whether growth was refused since the last call (then resets). */
  takeRefused(): boolean;
}

export function memoryCeiling(): MemoryCeiling {
  let ceiling = Infinity; // booting: php.wasm's own maximum applies
  let refused = false;
  return {
    gate(imports) {
      const env = imports.env as Record<string, WebAssembly.ImportValue>;
      const resize = env.emscripten_resize_heap as (requested: number) => number;
      const gated = (requested: number) => {
        if (requested >>> 0 > ceiling) {
          refused = true;
          return 0;
        }
        return resize(requested);
      };
      return { ...imports, env: { ...env, emscripten_resize_heap: gated } };
    },
    set(bytes) {
      ceiling = bytes;
    },
    takeRefused() {
      const was = refused;
      refused = false;
      return was;
    },
  };
}
