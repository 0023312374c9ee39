/**
 * At most `limit` units in any `windowMs`: a sliding window of timestamps (memory is bounded by the
 * limit). The clock is injected so the policy is tested without waiting an hour.
 */
export class RateWindow {
  private readonly stamps: number[] = [];

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes `units` if they all fit; otherwise takes none and answers false. */
  take(units: number): boolean {
    const now = this.now();
    while (this.stamps.length && this.stamps[0] <= now - this.windowMs) this.stamps.shift();
    if (this.stamps.length + units > this.limit) return false;
    for (let i = 0; i < units; i++) this.stamps.push(now);
    return true;
  }
}
