/**
 * Other processes on the machine. Absolute numbers on a 2-core machine mean little if something
 * else is busy, so before each measurement the bench waits (bounded) for the machine to be quiet,
 * and afterwards names whatever else used CPU during it.
 */
import { allProcStats } from './proc-stat.js';
import { readFileSync } from 'node:fs';
import { benchCpuSeconds, machineBusySeconds, TICKS, treeCpuSeconds } from './cpu.js';
import { treePids } from './rss.js';

interface ProcessCpu {
  ticks: number;
  name: string;
}

/** CPU ticks of every process now. */
export function allProcessTicks(): Map<number, ProcessCpu> {
  return new Map(allProcStats().map((stat) => [stat.pid, { ticks: stat.ownTicks, name: stat.name }]));
}

export interface BusyProcess {
  pid: number;
  command: string;
  cores: number;
}

/** Processes (outside exclude) that used at least minCores between the two snapshots. */
export function busiestBetween(a: Map<number, ProcessCpu>, b: Map<number, ProcessCpu>, seconds: number, exclude: Set<number>, minCores = 0.05): BusyProcess[] {
  const busy: BusyProcess[] = [];
  for (const [pid, now] of b) {
    if (exclude.has(pid)) continue;
    const cores = (now.ticks - (a.get(pid)?.ticks ?? 0)) / TICKS / seconds; // not in a: started during the window
    if (cores >= minCores) busy.push({ pid, command: commandLine(pid) || now.name, cores });
  }
  return busy.sort((x, y) => y.cores - x.cores).slice(0, 3);
}

export function describeBusy(busy: BusyProcess[]): string {
  return busy.map((p) => `${p.command} (pid ${p.pid}, ${p.cores.toFixed(2)} cores)`).join('; ');
}

function commandLine(pid: number): string {
  try {
    const text = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    return text.length > 90 ? `${text.slice(0, 90)}…` : text;
  } catch {
    return '';
  }
}

/**
 * Samples one second at a time until processes other than the bench and the servers (serverRoots)
 * use less than thresholdCores, for at most maxSeconds. Returns the last sample.
 */
export async function waitForQuiet(serverRoots: number[], maxSeconds: number, thresholdCores: number): Promise<{ waitedSeconds: number; otherCores: number; busy: BusyProcess[] }> {
  const started = performance.now();
  for (;;) {
    const exclude = new Set([process.pid, ...treePids(serverRoots)]);
    const t0 = performance.now();
    const m0 = machineBusySeconds(), b0 = benchCpuSeconds(), s0 = treeCpuSeconds(serverRoots), p0 = allProcessTicks();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const seconds = (performance.now() - t0) / 1000;
    const other = Math.max(0, machineBusySeconds() - m0 - (benchCpuSeconds() - b0) - (treeCpuSeconds(serverRoots) - s0)) / seconds;
    const waitedSeconds = (performance.now() - started) / 1000;
    if (other < thresholdCores || waitedSeconds >= maxSeconds) {
      return { waitedSeconds, otherCores: other, busy: busiestBetween(p0, allProcessTicks(), seconds, exclude) };
    }
  }
}
