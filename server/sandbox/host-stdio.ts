import { readSync, writeSync } from 'node:fs';
import type { Runtime } from '../php-wasm/internals.js';

const EPIPE = 64; // Emscripten's errno for "broken pipe"
const STDOUT_DEVICE = 64;
const STDERR_DEVICE = 63;

/**
 * The `php` command's standard streams. PHP's stdout and stderr go straight to the host's file descriptors as PHP
 * writes them. php.wasm's own web streams are only read when the event loop runs, and a script
 * reading stdin blocks the loop (Emscripten reads it synchronously): a prompt printed before the
 * read ("Continue? [y/n]") would never show. A reader that went away (`| head`) fails PHP's write.
 */
export function writeOutputToHost(runtime: Runtime, fds: { stdout: number; stderr: number }): void {
  const { FS } = runtime;
  for (const [device, fd] of [[STDOUT_DEVICE, fds.stdout], [STDERR_DEVICE, fds.stderr]] as const) {
    const ops = FS.devices[FS.makedev(device, 0)]?.stream_ops as { write?: unknown } | undefined;
    if (!ops?.write) throw new Error('php.wasm output devices not found: this @php-wasm version is not supported');
    ops.write = (_stream: unknown, buffer: Uint8Array, offset: number, length: number) => {
      writeAll(fd, buffer.subarray(offset, offset + length), () => new FS.ErrnoError(EPIPE));
      return length;
    };
  }
}

/**
 * For the `php` command: PHP's stdin is the host's fd 0, read as POSIX read() does (blocking until
 * some bytes arrive, returning what there is, 0 at end of input), bytes as they are. Emscripten's
 * own reader opened process.stdin, which made a piped stdin non-blocking, so a script reading before
 * its input arrived got an I/O error; it also decoded the bytes as UTF-8 and read 256 at a time.
 */
export function readInputFromHost(runtime: Runtime, fd: number): void {
  const { FS } = runtime;
  const stream = FS.getStream(0) as { stream_ops: Record<string, unknown> } | undefined;
  if (!stream) throw new Error("php.wasm's stdin stream not found: this @php-wasm version is not supported");
  stream.stream_ops = {
    ...stream.stream_ops,
    read: (_stream: unknown, buffer: Uint8Array, offset: number, length: number) => {
      for (;;) {
        try {
          return readSync(fd, buffer, offset, length, null);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'EOF') return 0;
          if (code !== 'EAGAIN') throw error;
          pause();
        }
      }
    },
  };
}

function writeAll(fd: number, bytes: Uint8Array, brokenPipe: () => Error): void {
  let written = 0;
  while (written < bytes.length) {
    try {
      written += writeSync(fd, bytes, written, bytes.length - written);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') throw brokenPipe();
      // A non-blocking pipe that is full: wait a moment for the reader, as a blocking write would.
      if (code === 'EAGAIN') pause();
      else throw error;
    }
  }
}

/** A descriptor someone else made non-blocking: wait a moment, as a blocking call would. */
function pause(): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
}
