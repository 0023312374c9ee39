import type { Clock, Timer } from '../../server/pool/clock.js';

/** Lets what is already under way run: pending promise callbacks and setImmediate callbacks (fake workers reply that way). */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * A clock that moves only when the test says so: timers fire in order of their due time, each at
 * its exact time, so "nothing before 1000 ms, this at 1000 ms" is checked without waiting.
 */
export class FakeClock implements Clock {
  private time = 1_700_000_000_000;
  private readonly timers = new Map<number, { at: number; callback: () => void }>();
  private lastId = 0;

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): Timer {
    const id = ++this.lastId;
    this.timers.set(id, { at: this.time + Math.max(0, ms), callback });
    return id as unknown as Timer;
  }

  clearTimeout(timer: Timer | undefined): void {
    if (timer !== undefined) this.timers.delete(timer as unknown as number);
  }

  /** Milliseconds from now until each pending timer is due, soonest first. */
  get pending(): number[] {
    return [...this.timers.values()].map((timer) => timer.at - this.time).sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way (also ones set meanwhile). */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await settle();
      let next: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.timers.delete(next[0]);
      this.time = next[1].at;
      next[1].callback();
    }
    this.time = end;
    await settle();
  }
}
