/**
 * Emscripten library calls that allocate in wasm memory once and keep the addresses in JavaScript
 * for the instance's life: the protocol database behind getprotobyname/getprotobynumber (its
 * `Protocols` list). A worker reset to the warm image (see warm-image.ts, resetToWarmImage) gets the
 * image's memory under those addresses, where the entries are not (free space, or another allocation),
 * so a worker whose PHP made such a call is never reset: it is replaced. A worker started from the
 * image is unaffected: its JavaScript starts with an empty list.
 */
const KEEPS_POINTERS = ['setprotoent', 'getprotobyname', 'getprotobynumber'];

export interface JsHeldPointers {
  imports: WebAssembly.Imports;
  /** Whether any of those calls was made in this instance. */
  held(): boolean;
}

export function trackJsHeldPointers(imports: WebAssembly.Imports): JsHeldPointers {
  let held = false;
  const env = { ...(imports.env as Record<string, unknown>) };
  for (const name of KEEPS_POINTERS) {
    const call = env[name];
    if (typeof call !== 'function') continue;
    env[name] = (...args: unknown[]) => {
      held = true;
      return (call as (...args: unknown[]) => unknown)(...args);
    };
  }
  return { imports: { ...imports, env: env as WebAssembly.ModuleImports }, held: () => held };
}
