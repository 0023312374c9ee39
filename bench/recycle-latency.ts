/**
 * Issue #12: "a recycle causes no latency spike". The home page is measured twice in one run: on a
 * server whose workers do not reach their request limit during the window (steady), then on the
 * same server restarted with a limit that makes each worker recycle several times in the window.
 */
import type { BenchArgs } from './args.js';
import { measure } from './measure.js';
import { windowSeconds } from './recycle-figures.js';
import type { Measurement } from './report.js';
import type { Scenario } from './scenarios.js';
import type { Target } from './target.js';

/** One window: the recycles the server counted during it along with the measurement. */
export async function measureWindow(home: Scenario, target: Target, all: Target[], args: BenchArgs, say: (line: string) => void): Promise<{ m: Measurement; recycles?: number }> {
  const windowArgs = { ...args, durationSeconds: windowSeconds(args) };
  let before: number | undefined;
  // Counted from after the warm-up: recycles while warming up are not in the window.
  const m = await measure(home, target, all, windowArgs, say, async () => {
    before = await target.recycles?.();
  });
  const after = await target.recycles?.();
  return { m, recycles: before !== undefined && after !== undefined ? after - before : undefined };
}
