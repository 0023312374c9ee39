import type { FromWorker, RunEnd } from './messages.js';
import type { OutputGate } from './output-flow.js';
import { parsePhpHead } from './php-head.js';

/** A flush as soon as this much is pending; smaller output waits until PHP pauses or ends. */
const FLUSH_BYTES = 64 * 1024;
/** Moving a buffer costs more than copying a small one: only large chunks are transferred. */
const TRANSFER_FROM_BYTES = 64 * 1024;

type Send = (message: FromWorker, transfer?: ArrayBuffer[]) => void;

/**
 * One response on its way from PHP to the main thread. PHP's head and output arrive synchronously
 * from its writes (see php-output.ts) and are sent in as few messages as possible without delaying
 * output: what is pending goes out when 64 KB are there, when PHP pauses (the event loop runs, so a
 * script that flush()es and waits reaches the client), or at the end, so a small page is one
 * message (head, body and end together). Before each send the gate may block PHP until the client
 * has taken enough (backpressure).
 */
export class ResponseSink {
  private readonly headParts: Uint8Array[] = [];
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private sentBytes = 0;
  private headSent = false;
  private flushScheduled = false;
  private ended = false;
  private abortReported = false;

  constructor(private readonly id: number, private readonly send: Send, private readonly gate: OutputGate) {}

  /** PHP's serialised head (written once, before its first output). */
  head(bytes: Uint8Array): void {
    this.headParts.push(bytes.slice());
  }

  /**
   * PHP's output. False once when the client is gone: PHP takes the failed write as an aborted
   * connection (ends the script, or with ignore_user_abort(true) notes it and goes on). Later output
   * is dropped and reported as written, since php.wasm's write loop would retry a failed write forever.
   */
  write(bytes: Uint8Array): boolean {
    // One write can be the whole of a huge echo: it goes out in pieces, each waiting for room, or
    // one piece larger than the window would wait for credit that can never come.
    for (let at = 0; at < bytes.length && !this.gate.aborted; at += FLUSH_BYTES) {
      const piece = bytes.subarray(at, at + FLUSH_BYTES);
      this.pending.push(piece.slice());
      this.pendingBytes += piece.length;
      if (this.pendingBytes >= FLUSH_BYTES) this.flush();
    }
    if (!this.gate.aborted) {
      if (this.pendingBytes) this.flushSoon();
      return true;
    }
    if (this.abortReported) return true;
    this.abortReported = true;
    return false;
  }

  private flushSoon(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      if (!this.ended) this.flush();
    });
  }

  end(end: RunEnd): void {
    this.ended = true;
    const data = this.takePending();
    if (this.headSent) this.send({ type: 'end', id: this.id, data, ...end }, transferList(data));
    else this.send({ type: 'head', id: this.id, ...this.parsedHead(), data, end }, transferList(data));
  }

  private flush(): void {
    if (!this.pendingBytes) return;
    this.gate.waitForRoom(this.sentBytes + this.pendingBytes);
    if (this.gate.aborted) {
      this.takePending(); // nobody to send it to
      return;
    }
    const data = this.takePending();
    if (this.headSent) this.send({ type: 'chunk', id: this.id, data: data! }, transferList(data));
    else this.send({ type: 'head', id: this.id, ...this.parsedHead(), data }, transferList(data));
    this.headSent = true;
  }

  private takePending(): Uint8Array | undefined {
    if (!this.pendingBytes) return undefined;
    const data = this.pending.length === 1 ? this.pending[0]! : concat(this.pending, this.pendingBytes);
    this.sentBytes += this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    return data;
  }

  private parsedHead(): { status: number; headers: Record<string, string[]> } {
    return parsePhpHead(new TextDecoder().decode(concat(this.headParts, this.headParts.reduce((n, part) => n + part.length, 0))));
  }
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function transferList(chunk: Uint8Array | undefined): ArrayBuffer[] {
  return chunk && chunk.byteLength >= TRANSFER_FROM_BYTES ? [chunk.buffer as ArrayBuffer] : [];
}
