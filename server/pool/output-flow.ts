/**
 * Credit-based flow of PHP's output from a worker to the main thread, over one SharedArrayBuffer
 * per worker. PHP writes its output synchronously (inside wasm), so a worker cannot wait for a
 * message: it blocks on Atomics.wait until the main thread has passed enough of the response on to
 * the client. A slow reader then slows PHP down (as a full socket does under php-fpm) instead of
 * the response piling up in memory; a client that left makes PHP's next write fail, which PHP
 * handles as an aborted connection (connection_aborted(), ignore_user_abort()).
 */

/** Bytes a worker may send ahead of what the client took. */
export const OUTPUT_WINDOW_BYTES = 1024 * 1024;

const ACKED = 0; // bytes of the current response the main thread passed on
const ABORTED = 1; // 1 once the current response's client is gone
const BLOCKED_SINCE = 2; // Date.now() while the worker waits for room, else 0
const BLOCKED_MS = 3; // time the worker waited for room during the current request
const SLOTS = 4;

export function createFlowBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(SLOTS * BigInt64Array.BYTES_PER_ELEMENT);
}

/** The main thread's side: says how much was consumed, or that the client left. */
export class OutputFlowControl {
  private readonly cells: BigInt64Array;

  constructor(buffer: SharedArrayBuffer) {
    this.cells = new BigInt64Array(buffer);
  }

  /** Before each request. */
  reset(): void {
    for (const cell of [ACKED, ABORTED, BLOCKED_SINCE, BLOCKED_MS]) Atomics.store(this.cells, cell, 0n);
  }

  consumed(totalBytes: number): void {
    Atomics.store(this.cells, ACKED, BigInt(totalBytes));
    Atomics.notify(this.cells, ACKED);
  }

  abort(): void {
    Atomics.store(this.cells, ABORTED, 1n);
    Atomics.notify(this.cells, ACKED);
  }

  /** Time the worker spent waiting for the client in this request (so far, including now). */
  blockedMs(now = Date.now()): number {
    const since = Number(Atomics.load(this.cells, BLOCKED_SINCE));
    return Number(Atomics.load(this.cells, BLOCKED_MS)) + (since ? Math.max(0, now - since) : 0);
  }
}

/** The worker's side: waits for room before sending, and tells whether the client left. */
export class OutputGate {
  private readonly cells: BigInt64Array;

  constructor(buffer: SharedArrayBuffer) {
    this.cells = new BigInt64Array(buffer);
  }

  get aborted(): boolean {
    return Atomics.load(this.cells, ABORTED) === 1n;
  }

  /** Blocks the thread until at most the window is in flight once `sentBytes` are sent, or the client left. */
  waitForRoom(sentBytes: number): void {
    let acked = Atomics.load(this.cells, ACKED);
    if (sentBytes - Number(acked) <= OUTPUT_WINDOW_BYTES || this.aborted) return;
    const since = Date.now();
    Atomics.store(this.cells, BLOCKED_SINCE, BigInt(since));
    while (sentBytes - Number(acked) > OUTPUT_WINDOW_BYTES && !this.aborted) {
      // In slices: a terminate() from the pool takes effect between them at the latest.
      Atomics.wait(this.cells, ACKED, acked, 1000);
      acked = Atomics.load(this.cells, ACKED);
    }
    Atomics.store(this.cells, BLOCKED_SINCE, 0n);
    Atomics.add(this.cells, BLOCKED_MS, BigInt(Date.now() - since));
  }
}
