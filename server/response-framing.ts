/**
 * The server owns message framing. PHP may declare a Content-Length; the body that goes out is then
 * exactly that long: extra output is cut (sent on, it would read as a second response on a
 * keep-alive or proxied connection), and a body that ends short closes the connection (else the
 * client waits for bytes that never come).
 */
import { Transform, type TransformCallback } from 'node:stream';

/** PHP's Content-Length as a number; null when absent, and 'invalid' when unusable (not digits, or conflicting). */
export function declaredLength(value: string | string[] | undefined): number | null | 'invalid' {
  if (value === undefined) return null;
  const parts = (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(',')).map((v) => v.trim());
  if (!parts.every((p) => /^\d{1,15}$/.test(p)) || new Set(parts.map(Number)).size !== 1) return 'invalid';
  return Number(parts[0]);
}

export class ShortBodyError extends Error {
  constructor(readonly declared: number, readonly sent: number) {
    super(`PHP declared Content-Length ${declared} but sent ${sent} bytes`);
  }
}

/** Passes at most `declared` bytes; reports what it cut, and fails (closing the connection) if short. */
export class DeclaredLengthBody extends Transform {
  private sent = 0;
  private cut = 0;

  constructor(private readonly declared: number, private readonly onCut: (bytes: number) => void) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const room = this.declared - this.sent;
    if (chunk.length <= room) {
      this.sent += chunk.length;
      return done(null, chunk);
    }
    this.sent += room;
    this.cut += chunk.length - room;
    done(null, room > 0 ? chunk.subarray(0, room) : undefined);
  }

  override _flush(done: TransformCallback): void {
    if (this.cut) this.onCut(this.cut);
    done(this.sent < this.declared ? new ShortBodyError(this.declared, this.sent) : null);
  }
}
