/** The recycle-latency scenario's figures and the choice of its recycle interval (pure). */
import type { BenchArgs } from './args.js';
import type { Measurement } from './report.js';

/** Recycles per worker within the window: several, yet far enough apart that each successor is warm before the next. */
export const RECYCLES_PER_WORKER = 4;

export interface RecycleLatencyResult {
  /** Requests per worker before it is recycled, in the steady window and in the recycling one. */
  steadyMaxRequests: number;
  maxRequests?: number;
  steady: Measurement;
  recycling?: Measurement;
  /** Workers recycled during each measured window (counted by the server). */
  steadyRecycles?: number;
  recycles?: number;
}

/** The window of each measurement: twice --duration, so a handful of recycles fit in it. */
export const windowSeconds = (args: BenchArgs) => args.durationSeconds * 2;

/**
 * The request limit that recycles each worker `RECYCLES_PER_WORKER` times in the window at the
 * steady rate: a count, as php-fpm's pm.max_requests and our --max-requests both are.
 */
export function recycleInterval(steadyReqPerSec: number, seconds: number, workers: number): number {
  return Math.max(2, Math.round((steadyReqPerSec * seconds) / workers / RECYCLES_PER_WORKER));
}

/** p99 while recycling ÷ steady p99. */
export function recycleP99Ratio(r: RecycleLatencyResult | undefined): number | undefined {
  const steady = r?.steady.load, recycling = r?.recycling?.load;
  if (!steady?.requests || !recycling?.requests) return undefined;
  return recycling.latencyMs.p99 / steady.latencyMs.p99;
}
