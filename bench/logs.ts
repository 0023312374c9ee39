/**
 * What the servers logged while they were measured: each log's size is marked before the load and
 * what was appended since is read back afterwards. Our server runs with --log-level warn, so all of
 * its lines count; nginx and php-fpm logs are written at warn level or above by their configs.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';

export type LogMark = Map<string, number>;

export function markLogs(files: string[]): LogMark {
  return new Map(files.map((file) => [file, size(file)]));
}

/** Lines appended since the mark, each shortened to maxChars, prefixed by the log's name. */
export function linesSince(mark: LogMark, maxLines = 200, maxChars = 400): string[] {
  const lines: string[] = [];
  for (const [file, offset] of mark) {
    const end = size(file);
    if (end <= offset) continue;
    const length = Math.min(end - offset, 1 << 20); // the first MiB of what was added is plenty
    const buffer = Buffer.alloc(length);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, buffer, 0, length, offset);
    } finally {
      closeSync(fd);
    }
    const name = file.split('/').pop();
    for (const line of buffer.toString('utf8').split('\n')) {
      if (line.trim()) lines.push(`${name}: ${line.length > maxChars ? `${line.slice(0, maxChars)}…` : line}`);
    }
  }
  return lines.slice(-maxLines);
}

function size(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
