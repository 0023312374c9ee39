import type { Runtime } from '../php-wasm/internals.js';
import type { ResponseSink } from './response-sink.js';

const EPIPE = 64; // Emscripten's errno for "broken pipe"

/**
 * php.wasm writes a request's output and its serialised head to two character devices (major 64
 * and 62), which @php-wasm/universal turns into web streams read only when the event loop runs.
 * Taking the writes here, synchronously, is what lets a slow client block PHP (backpressure) and a
 * gone client fail PHP's write, which PHP treats as an aborted connection, as under php-fpm.
 */
export interface PhpOutput {
  /** Where the current request's output goes (undefined: php.wasm's own streams, e.g. at boot). */
  route(sink: ResponseSink | undefined): void;
}

const STDOUT_DEVICE = [64, 0] as const;
const HEADERS_DEVICE = [62, 0] as const;

export function capturePhpOutput(runtime: Runtime): PhpOutput {
  const { FS } = runtime;
  const stdout = FS.devices[FS.makedev(...STDOUT_DEVICE)]?.stream_ops as DeviceOps | undefined;
  const headers = FS.devices[FS.makedev(...HEADERS_DEVICE)]?.stream_ops as DeviceOps | undefined;
  // Guard against a php.wasm release that moved them: the server must not run with output unhandled.
  if (!stdout?.write || !headers?.write) throw new Error('php.wasm output devices not found: this @php-wasm version is not supported');
  let sink: ResponseSink | undefined;

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
  return { route: (next) => { sink = next; } };
}

interface DeviceOps {
  write(stream: unknown, buffer: Uint8Array, offset: number, length: number, position?: number): number;
}
