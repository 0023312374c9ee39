/**
 * Measuring each scenario in rounds. The machines are shared: another tenant's load comes and goes
 * within seconds, and one 10 s window per server let a single busy spell decide a ratio (the same
 * code measured home at 0.32× and 0.39× in one run). So each round measures every server once,
 * the order alternating between rounds (ours, native, then native, ours, …) so neither always
 * goes first, and each server's median round stands for it.
 */
import type { Measurement, ServerName } from './report.js';
import type { Target } from './target.js';

/** The servers of round `round` (0-based), in the order they are measured. */
export function roundOrder<T>(targets: readonly T[], round: number): T[] {
  return round % 2 === 0 ? [...targets] : [...targets].reverse();
}

/**
 * The round whose throughput is the median of the measured ones (the lower of the two middle
 * ones for an even count: the bench does not flatter either server), among the rounds without
 * errors if any. Its latencies and CPU come with it, so the row it gives is one real window, not a
 * mix. Undefined when none ran a load.
 */
export function medianRound(rounds: readonly Measurement[]): Measurement | undefined {
  const loaded = rounds.filter((m) => m.load && m.load.requests > 0);
  // A round of quick error responses would look fast: clean rounds decide when there are any.
  const clean = loaded.filter((m) => !m.load!.errors && !m.load!.non2xx);
  const pool = (clean.length ? clean : loaded).sort((a, b) => a.load!.reqPerSec - b.load!.reqPerSec);
  return pool.length ? pool[Math.floor((pool.length - 1) / 2)] : undefined;
}

/** What stands for a server after its rounds: the median round, else the first (a failed check, a skipped load). */
export function representative(rounds: readonly Measurement[]): Measurement | undefined {
  return medianRound(rounds) ?? rounds[0];
}

/** Throughput of each round, in the order measured (null for a round without responses). */
export function roundRates(rounds: readonly Measurement[]): Array<number | null> {
  return rounds.map((m) => (m.load && m.load.requests > 0 ? m.load.reqPerSec : null));
}

/** One timed start: spawn to the first 200 home page, and the cores other processes used meanwhile. */
export interface TimedStart {
  seconds: number;
  otherCores: number;
}

/**
 * The start whose first-page time is the median (the slower of the two middle ones for an even
 * count: again not the flattering one). Undefined when no start was timed.
 */
export function medianStart(starts: readonly TimedStart[]): TimedStart | undefined {
  const sorted = [...starts].sort((a, b) => a.seconds - b.seconds);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)] : undefined;
}

/**
 * Starts the servers once per round, the order alternating, and stops each round's but the last,
 * whose servers are returned: each with its median start as its first page (when timed more than
 * once) and every start's time beside it. `start` is given the servers of the round already up.
 */
export async function startInRounds<N extends ServerName>(names: readonly N[], rounds: number, start: (name: N, running: Target[]) => Promise<Target>): Promise<Target[]> {
  const starts = new Map<N, TimedStart[]>(names.map((name) => [name, []]));
  let targets: Target[] = [];
  for (let round = 0; round < rounds; round++) {
    targets = [];
    for (const name of roundOrder(names, round)) {
      const target = await start(name, targets);
      targets.push(target);
      if (target.firstPageSeconds !== undefined) starts.get(name)!.push({ seconds: target.firstPageSeconds, otherCores: target.firstPageOtherCores ?? 0 });
    }
    if (round < rounds - 1) await Promise.all(targets.map((t) => t.stop()));
  }
  for (const target of targets) {
    const timed = starts.get(target.name as N) ?? [];
    const median = medianStart(timed);
    if (!median || timed.length < 2) continue;
    target.firstPageSeconds = median.seconds;
    target.firstPageOtherCores = median.otherCores;
    target.firstPageRounds = timed.map((timedStart) => timedStart.seconds);
  }
  return targets;
}
