import t from 'tap';
import type { Runtime } from '../server/php-wasm/internals.js';
import { refusalOf, type WarmImageMeta } from '../server/pool/warm-image.js';
import { imagesKeepRandomnessApart } from '../server/pool/warm-images.js';

/** What refusalOf reads of an instance: its open descriptors, function table and exported globals. */
function instance(streams: Array<{ fd: number; path: string; flags: number }>, tableLength = 3) {
  const fsStreams: unknown[] = [];
  for (const stream of streams) fsStreams[stream.fd] = stream;
  const runtime = { FS: { streams: fsStreams } } as unknown as Runtime;
  const exports: WebAssembly.Exports = {
    __indirect_function_table: new WebAssembly.Table({ initial: tableLength, element: 'anyfunc' }),
    __stack_pointer: new WebAssembly.Global({ value: 'i32', mutable: true }, 1000),
    core_globals: new WebAssembly.Global({ value: 'i32', mutable: false }, 64),
  };
  return { runtime, exports };
}

const TTY = [{ fd: 0, path: '/dev/tty', flags: 0 }, { fd: 1, path: '/dev/tty', flags: 1 }, { fd: 2, path: '/dev/tty1', flags: 1 }];

function image(overrides: Partial<WarmImageMeta> = {}): WarmImageMeta {
  return {
    memoryBytes: 8 * 4096,
    bootedBytes: 4 * 4096,
    runs: [{ first: 0, count: 2 }],
    streams: [...TTY, { fd: 3, path: '/tmp/.ZendSem.AbC123', flags: 32834 }, { fd: 4, path: '/request/stdout', flags: 32769 }, { fd: 13, path: '/dev/urandom', flags: 32768 }],
    globals: { __stack_pointer: '1000', core_globals: '64' },
    tableLength: 3,
    ...overrides,
  };
}

t.test('an image of a worker booted alike fits: its lock file and random device are made again, its leaked request outputs ignored', async (t) => {
  const { runtime, exports } = instance(TTY);
  t.equal(refusalOf(runtime, exports, image()), undefined);
  // A stack pointer elsewhere is set, not refused: it is a mutable global.
  t.equal(refusalOf(runtime, exports, image({ globals: { __stack_pointer: '2000', core_globals: '64' } })), undefined);
});

t.test('what the memory refers to outside itself must match, or the image is refused', async (t) => {
  const { runtime, exports } = instance(TTY);
  t.match(refusalOf(runtime, exports, image({ tableLength: 4 })), /function table has 4 entries, this instance's 3/);
  t.match(refusalOf(runtime, exports, image({ globals: { __stack_pointer: '1000', core_globals: '128' } })), /global core_globals is 128, this instance's 64/);
  t.match(refusalOf(runtime, exports, image({ globals: { __stack_pointer: '1000', core_globals: '64', __memory_base: '0' } })), /no global __memory_base/);
  t.match(refusalOf(runtime, exports, image({ globals: { __stack_pointer: '1000' } })), /exports other globals/);
  t.match(refusalOf(runtime, exports, image({ streams: [...TTY, { fd: 5, path: '/docroot/wp-config.php', flags: 0 }] })), /holds \/docroot\/wp-config\.php open \(descriptor 5\)/);
  t.match(refusalOf(runtime, exports, image({ runs: [{ first: 6, count: 4 }] })), /page list is malformed/);
  t.match(refusalOf(runtime, exports, image({ memoryBytes: 1000 })), /page list is malformed/);
});

t.test('a descriptor this instance has open must be the same one in the image', async (t) => {
  const { runtime, exports } = instance([...TTY, { fd: 3, path: '/tmp/other', flags: 2 }]);
  t.match(refusalOf(runtime, exports, image()), /descriptor 3 \(\/tmp\/other\) is not open alike/);
  const swapped = instance([{ fd: 0, path: '/dev/tty', flags: 0 }, { fd: 1, path: '/dev/tty', flags: 0 }, { fd: 2, path: '/dev/tty1', flags: 1 }]);
  t.match(refusalOf(swapped.runtime, swapped.exports, image()), /descriptor 1 \(\/dev\/tty\) is not open alike/);
});

t.test('images only where PHP reseeds its generators in every request (8.2 on)', async (t) => {
  t.same(['7.4', '8.0', '8.1', '8.2', '8.3', '8.4', '8.5', '9.0'].map(imagesKeepRandomnessApart), [false, false, false, true, true, true, true, true]);
});
