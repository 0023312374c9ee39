import type { Logger } from 'pino';

/** What the trimmer asks of the pool. */
export interface TrimSource {
  /** No request running or waiting, no worker starting or leaving. */
  quiet(): boolean;
  /** Changes whenever a request was served or a worker came or went. */
  activity(): string;
}

/** How often the pool is looked at: a trim follows a busy spell within this. */
export const QUIET_CHECK_MS = 5_000;

/** Gives memory back to the system (workers' zero pages, glibc's free memory); resolves when done. */
export type ReturnMemory = () => Promise<void>;

/**
 * Returns freed memory to the system once the pool is quiet after something happened (requests
 * served, a worker recycled or replaced): then glibc holds the most free memory, no request waits
 * behind the trim's arena locks, and idle workers can scan their memory. Once per quiet spell: a
 * trim with nothing new freed is work for nothing.
 */
export class QuietTrimmer {
  private trimmedAfter: string | undefined;
  private trimming = false;
  private timer?: NodeJS.Timeout;

  constructor(private readonly source: TrimSource, private readonly trim: ReturnMemory, private readonly log: Logger) {}

  start(everyMs = QUIET_CHECK_MS): void {
    this.timer = setInterval(() => void this.check(), everyMs).unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One look at the pool; trims if it is quiet and something happened since the last trim. */
  async check(): Promise<void> {
    if (this.trimming || !this.source.quiet()) return;
    const activity = this.source.activity();
    if (activity === this.trimmedAfter) return;
    this.trimming = true;
    const before = process.memoryUsage.rss();
    try {
      await this.trim();
      this.trimmedAfter = activity;
      this.log.debug({ rssBefore: before, rssAfter: process.memoryUsage.rss() }, 'returned freed memory to the system');
    } catch (error) {
      this.log.warn({ error: String(error) }, 'returning freed memory to the system failed');
      this.trimmedAfter = activity; // not again for the same spell
    } finally {
      this.trimming = false;
    }
  }
}
