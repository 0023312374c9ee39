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

export const SETTLE: SettleOptions = { readings: 4, tolerance: 0.01, intervalMs: 1000, maxMs: 45_000 };

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

/** Samples `read` until settled or out of time; the last reading, and whether it settled. */
export async function settledReading(read: () => number, opts: SettleOptions = SETTLE): Promise<{ value: number; settled: boolean; seconds: number }> {
  const started = performance.now();
  const samples = [read()];
  while (!isSettled(samples, opts.readings, opts.tolerance) && performance.now() - started < opts.maxMs) {
    await new Promise((resolve) => setTimeout(resolve, opts.intervalMs));
    samples.push(read());
  }
  return { value: samples.at(-1)!, settled: isSettled(samples, opts.readings, opts.tolerance), seconds: (performance.now() - started) / 1000 };
}
