/**
 * Terminating a worker thread while it is inside a koffi call aborts the whole process: koffi cannot
 * throw into an isolate that is being terminated (node-addon-api's napi_throw fails, and Node ends
 * with "FATAL ERROR: Error::ThrowAsJavaScriptException napi_throw"). CI saw it once: the pool closed
 * while a worker was loading its page calls (zero-pages.ts).
 *
 * So a worker makes such calls only through its gate, a cell shared with the pool, and the pool
 * closes the gate before it terminates the thread: it waits out a call in progress (a slice of the
 * zero-page scan: milliseconds), and no call starts after that.
 */
const OPEN = 0;
const INSIDE = 1;
const CLOSED = 2;

export function createNativeCallGate(): SharedArrayBuffer {
  return new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
}

/** The worker's side: runs `call` unless the pool closed the gate (then `undefined`, nothing called). */
export function throughGate<T>(gate: SharedArrayBuffer, call: () => T): T | undefined {
  const cell = new Int32Array(gate);
  if (Atomics.compareExchange(cell, 0, OPEN, INSIDE) !== OPEN) return undefined;
  try {
    return call();
  } finally {
    Atomics.store(cell, 0, OPEN);
    Atomics.notify(cell, 0);
  }
}

type WaitAsync = (cell: Int32Array, index: number, value: number, timeoutMs: number) => { async: boolean; value: Promise<string> | string };

/**
 * The pool's side: closes the gate, once no call is inside. True when closed; false if a call was
 * still inside after `maxWaitMs` (a native call that hangs: the thread is terminated regardless).
 */
export async function closeGate(gate: SharedArrayBuffer, maxWaitMs: number): Promise<boolean> {
  const cell = new Int32Array(gate);
  const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;
  const deadline = performance.now() + maxWaitMs;
  for (;;) {
    if (Atomics.compareExchange(cell, 0, OPEN, CLOSED) !== INSIDE) return true;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    const waited = waitAsync(cell, 0, INSIDE, left);
    if (waited.async) await waited.value;
  }
}
