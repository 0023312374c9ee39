/**
 * The php.wasm internals the sandbox depends on (server/php-wasm/internals.ts): all present in the
 * pinned @php-wasm, and a build without them is named and refused instead of served unprotected.
 */
import { loadNodeRuntime } from '@php-wasm/node';
import { PHP } from '@php-wasm/universal';
import t from 'tap';
import { missingImports, missingInternals, runtimeOf, type Runtime } from '../server/php-wasm/internals.js';

t.test('the pinned @php-wasm has every internal the sandbox patches', async (t) => {
  let imports: WebAssembly.Imports = {};
  const php = new PHP(await loadNodeRuntime('8.3', {
    emscriptenOptions: {
      processId: 9001,
      instantiateWasm(given: WebAssembly.Imports, receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void) {
        imports = given;
        void wasmFrom(given).then(({ instance, module }) => receive(instance, module));
        return {};
      },
    } as Record<string, unknown>,
  }));
  t.same(missingInternals(runtimeOf(php)), [], 'filesystem, devices, sockets, memory');
  t.same(missingImports(imports), [], 'wasm imports');
  runtimeOf(php).outboundNetworkProxyServer.close();
});

t.test('a build that lacks them is named, piece by piece', async (t) => {
  const partial = { FS: { open() {}, devices: {}, makedev: (a: number, b: number) => (a << 8) | b }, HEAPU8: new Uint8Array(1) } as unknown as Runtime;
  const missing = missingInternals(partial);
  t.ok(missing.includes('FS.write'), 'FS.write');
  t.ok(missing.includes('FS.devices (stdout device 64,0)'), 'the output device');
  t.ok(missing.includes('websocket.url'), 'the relay URL');
  t.notOk(missing.includes('FS.open'), 'what is there is not named');
  t.same(missingImports({ env: { emscripten_resize_heap: () => 0 } }), ['wasm import env.__syscall_connect', 'wasm import env.__syscall_sendto']);
});

/** Compiles php.wasm the way the server does, for the instantiateWasm hook above. */
async function wasmFrom(imports: WebAssembly.Imports): Promise<{ instance: WebAssembly.Instance; module: WebAssembly.Module }> {
  const { compilePhpModule } = await import('../server/pool/wasm-module.js');
  const module = await compilePhpModule('8.3');
  return { instance: await WebAssembly.instantiate(module, imports), module };
}
