/**
 * A worker's koffi calls and its termination (server/pool/native-call-gate.ts): terminating a thread
 * inside a koffi call aborts the whole process, so the pool closes the worker's gate first.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { closeGate, createNativeCallGate, throughGate } from '../server/pool/native-call-gate.js';
import { startTestServer } from './helpers/server.js';
import { until } from './helpers/until.js';

const GATE_MODULE = new URL('../server/pool/native-call-gate.js', import.meta.url).href;

/**
 * A thread that enters the gate and stays inside until `hold[0]` turns 1, then, when told 'again',
 * tries once more; it reports each step.
 */
function holdingThread(gate: SharedArrayBuffer, hold: SharedArrayBuffer): Worker {
  return new Worker(`
    (async () => {
      const { workerData, parentPort } = await import('node:worker_threads');
      const { throughGate } = await import(workerData.gateModule);
      const hold = new Int32Array(workerData.hold);
      throughGate(workerData.gate, () => {
        parentPort.postMessage('inside');
        Atomics.wait(hold, 0, 0);
      });
      parentPort.postMessage('left');
      parentPort.once('message', () => {
        const again = throughGate(workerData.gate, () => 'called');
        parentPort.postMessage(again === undefined ? 'refused' : 'called again');
      });
    })();
  `, { eval: true, workerData: { gate, hold, gateModule: GATE_MODULE } });
}

const nextMessage = (worker: Worker) => new Promise<unknown>((resolve) => worker.once('message', resolve));

t.test('closing the gate waits for the call inside to end, and no call starts after it', async (t) => {
  const gate = createNativeCallGate();
  const hold = new SharedArrayBuffer(4);
  const thread = holdingThread(gate, hold);
  t.teardown(() => thread.terminate());
  t.equal(await nextMessage(thread), 'inside');
  let closed: boolean | undefined;
  const closing = closeGate(gate, 60_000).then((result) => (closed = result));
  // Messages from the thread are handled in order: its 'left' comes only after we let it go.
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(closed, undefined, 'not closed while the thread is inside');
  Atomics.store(new Int32Array(hold), 0, 1);
  Atomics.notify(new Int32Array(hold), 0);
  t.equal(await nextMessage(thread), 'left');
  t.equal(await closing, true, 'closed once the call ended');
  thread.postMessage('again');
  t.equal(await nextMessage(thread), 'refused', 'a call after the close is not made');
  t.equal(throughGate(gate, () => 'called'), undefined, 'nor on this side');
});

t.test('a call that never ends: closing gives up after its bound and says so', async (t) => {
  const gate = createNativeCallGate();
  const hold = new SharedArrayBuffer(4);
  const thread = holdingThread(gate, hold);
  t.teardown(() => {
    Atomics.store(new Int32Array(hold), 0, 1);
    Atomics.notify(new Int32Array(hold), 0);
    return thread.terminate();
  });
  t.equal(await nextMessage(thread), 'inside');
  t.equal(await closeGate(gate, 20), false);
});

t.test('an open gate closes at once; a closed one stays closed', async (t) => {
  const gate = createNativeCallGate();
  t.equal(throughGate(gate, () => 7), 7);
  t.equal(await closeGate(gate, 0), true);
  t.equal(await closeGate(gate, 0), true);
  t.equal(throughGate(gate, () => 7), undefined);
});

t.test('threads terminated while they make koffi calls through the gate, closed first, leave the process alive', (t) => {
  // In a process of its own: without the gate this ends the whole process with
  // "FATAL ERROR: Error::ThrowAsJavaScriptException napi_throw" (koffi 2.12, Node 20).
  const koffi = pathToFileURL(createRequire(import.meta.url).resolve('koffi')).href;
  const script = `
    import { Worker } from 'node:worker_threads';
    const { closeGate, createNativeCallGate } = await import(${JSON.stringify(GATE_MODULE)});
    for (let i = 0; i < 10; i++) {
      const gate = createNativeCallGate();
      const thread = new Worker(\`
        (async () => {
          const { workerData, parentPort } = await import('node:worker_threads');
          const koffi = (await import(workerData.koffi)).default;
          const { throughGate } = await import(workerData.gateModule);
          let told = false;
          while (throughGate(workerData.gate, () => koffi.load('libc.so.6').func('int getpid()')()) !== undefined) {
            if (!told) { told = true; parentPort.postMessage('calling'); }
          }
        })();
      \`, { eval: true, workerData: { gate, koffi: ${JSON.stringify(koffi)}, gateModule: ${JSON.stringify(GATE_MODULE)} } });
      await new Promise((resolve) => thread.once('message', resolve));
      await closeGate(gate, 2000);
      await thread.terminate();
    }
    process.stdout.write('alive');
  `;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 });
  t.equal(child.stderr.includes('FATAL ERROR'), false, child.stderr.slice(0, 2000));
  t.equal(child.signal, null);
  t.equal(child.status, 0);
  t.equal(child.stdout, 'alive');
  t.end();
});

t.test('the pool closes a worker\'s gate before it ends the thread', async (t) => {
  const server = await startTestServer({ workers: 2 });
  const handles = (server.pool as unknown as { workers: Set<{ nativeCallGate: SharedArrayBuffer }> }).workers;
  const gates = [...handles].map((handle) => new Int32Array(handle.nativeCallGate));
  t.equal(gates.length, 2);
  // Open, or a zero-page scan inside it (workers scan once warm).
  t.ok(gates.every((cell) => cell[0] !== 2), 'not closed while the workers serve');
  await server.close();
  t.same(gates.map((cell) => cell[0]), [2, 2], 'closed once the pool stopped them');
});

t.test('a worker that stays inside a native call is ended after the bound, and the log says so', async (t) => {
  const server = await startTestServer({ workers: 1 });
  const handles = (server.pool as unknown as { workers: Set<{ id: number; nativeCallGate: SharedArrayBuffer }> }).workers;
  const [handle] = [...handles];
  const cell = new Int32Array(handle!.nativeCallGate);
  // Wait until no scan is inside, then mark it inside for good: a call that never returns.
  await until('the gate is free', () => Atomics.compareExchange(cell, 0, 0, 1) === 0);
  await server.close();
  const line = server.logs.find((entry) => entry.msg === 'worker still inside a native call; ending it anyway (the process may abort)');
  t.ok(line, 'logged');
  t.equal(line?.worker, handle!.id);
});
