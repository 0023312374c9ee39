import type { Runtime } from '../php-wasm/internals.js';
import type { ResponseSink } from './response-sink.js';

const EPIPE = 64; // Emscripten's errno for "broken pipe"
/** What one request's stderr may hold: PHP's log lines go to the server's log, a flood does not. */
export const MAX_STDERR_BYTES = 256 * 1024;

/**
 * php.wasm writes a request's output, its log (stderr) and its serialised head to three character
 * devices (major 64, 63 and 62), which @php-wasm/universal turns into web streams read only when
 * the event loop runs.
 * Taking the writes here, synchronously, is what lets a slow client block PHP (backpressure) and a
 * gone client fail PHP's write, which PHP treats as an aborted connection, as under php-fpm.
 */
export interface PhpOutput {
  /** Where the current request's output goes (undefined: php.wasm's own streams, e.g. at boot). */
  route(sink: ResponseSink | undefined): void;
  /** What PHP wrote to stderr (its log lines) while a sink was routed, since the last take. */
  takeErrors(): string;
}

const STDOUT_DEVICE = [64, 0] as const;
const STDERR_DEVICE = [63, 0] as const;
const HEADERS_DEVICE = [62, 0] as const;

export function capturePhpOutput(runtime: Runtime): PhpOutput {
  const { FS } = runtime;
  const stdout = FS.devices[FS.makedev(...STDOUT_DEVICE)]?.stream_ops as DeviceOps | undefined;
  const stderr = FS.devices[FS.makedev(...STDERR_DEVICE)]?.stream_ops as DeviceOps | undefined;
  const headers = FS.devices[FS.makedev(...HEADERS_DEVICE)]?.stream_ops as DeviceOps | undefined;
  // Guard against a php.wasm release that moved them: the server must not run with output unhandled.
  if (!stdout?.write || !stderr?.write || !headers?.write) throw new Error('php.wasm output devices not found: this @php-wasm version is not supported');
  let sink: ResponseSink | undefined;
  let errors: Uint8Array[] = [];
  let errorBytes = 0;
  let errorsCut = false;

  const ownStdout = stdout.write;
  stdout.write = (stream, buffer, offset, length, position) => {
    if (!sink) return ownStdout(stream, buffer, offset, length, position);
    if (!sink.write(buffer.subarray(offset, offset + length))) throw new FS.ErrnoError(EPIPE);
    return length;
  };
  const ownHeaders = headers.write;
  headers.write = (stream, buffer, offset, length, position) => {
    if (!sink) return ownHeaders(stream, buffer, offset, length, position);
    sink.head(buffer.subarray(offset, offset + length));
    return length;
  };
  const ownStderr = stderr.write;
  stderr.write = (stream, buffer, offset, length, position) => {
    if (!sink) return ownStderr(stream, buffer, offset, length, position);
    const room = MAX_STDERR_BYTES - errorBytes;
    if (length > room) errorsCut = true;
    if (room > 0) {
      errors.push(Buffer.from(buffer.subarray(offset, offset + Math.min(length, room)))); // a copy, as bytes (the heap view may be signed)
      errorBytes += Math.min(length, room);
    }
    return length;
  };
  return {
    route: (next) => {
      if (next) forget(); // a failed request's leftovers are not the next one's
      sink = next;
    },
    takeErrors: () => {
      const text = errors.length ? Buffer.concat(errors).toString('utf8') : '';
      const cut = errorsCut;
      forget();
      return cut ? `${text}\n(stderr cut at ${MAX_STDERR_BYTES} bytes)` : text;
    },
  };

  function forget(): void {
    errors = [];
    errorBytes = 0;
    errorsCut = false;
  }
}

interface DeviceOps {
  write(stream: unknown, buffer: Uint8Array, offset: number, length: number, position?: number): number;
}
