/**
 * Memory read once it has settled: after load, workers may still be starting (a recycle's
 * successor) or exiting, and freed memory takes a moment to leave the RSS. Sampled until the last
 * few readings agree, with a time bound, so "idle" means the same before and after a soak.
 */

export interface SettleOptions {
  /** Readings that must agree, each within `tolerance` (a share) of their mean. */
  readings: number;
  tolerance: number;
  intervalMs: number;
  maxMs: number;
}

/**
 * 90 s: room for a self-call worker's minute of idle life to end, then six readings. They span 10 s:
 * our server gives memory back up to QUIET_CHECK_MS (5 s) after it goes quiet, and a shorter window
 * could settle before that, so a reading after load would miss what the one before load had.
 */
export const SETTLE: SettleOptions = { readings: 6, tolerance: 0.01, intervalMs: 2000, maxMs: 90_000 };

/** True when the last `readings` samples lie within `tolerance` of their mean. */
export function isSettled(samples: number[], readings: number, tolerance: number): boolean {
  if (samples.length < readings) return false;
  const last = samples.slice(-readings);
  const mean = last.reduce((a, b) => a + b, 0) / readings;
  return last.every((v) => Math.abs(v - mean) <= tolerance * mean);
}

/** Growth from `before` to `after` in percent of `before`. */
export function growthPercent(before: number, after: number): number {
  return ((after - before) / before) * 100;
}

export interface SettledReading {
  /** The last reading. */
  value: number;
  /** Its last `readings` samples agreed, all taken at rest. */
  settled: boolean;
  /** Whether the server was at rest at the last reading (always, without an `atRest` check). */
  atRest: boolean;
  seconds: number;
}

/**
 * Samples `read` until settled or out of time. With `atRest`, a sample counts only while the server
 * is at rest: one taken otherwise starts the count again, since an extra worker alive for a minute
 * can hold memory steady enough to look settled.
 */
export async function settledReading(read: () => number, opts: SettleOptions = SETTLE, atRest: () => Promise<boolean> = async () => true): Promise<SettledReading> {
  const started = performance.now();
  let samples: number[] = [];
  let rest = false;
  let value = 0;
  for (;;) {
    rest = await atRest();
    value = read();
    samples = rest ? [...samples, value] : [];
    if (isSettled(samples, opts.readings, opts.tolerance) || performance.now() - started >= opts.maxMs) break;
    await new Promise((resolve) => setTimeout(resolve, opts.intervalMs));
  }
  return { value, settled: isSettled(samples, opts.readings, opts.tolerance), atRest: rest, seconds: (performance.now() - started) / 1000 };
}
