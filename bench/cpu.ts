/**
 * CPU time from /proc (Linux): of the servers' process trees, of the bench itself (the load
 * generator), and of the whole machine, so each measurement can say how much CPU a request cost
 * the server and how busy the machine was with anything else (other processes skew the numbers).
 */
import { readProcStat } from './proc-stat.js';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { treePids } from './rss.js';

/** Clock ticks per second of /proc's CPU times. */
export const TICKS = (() => {
  const result = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 });
  const value = Number(result.stdout?.trim());
  return Number.isFinite(value) && value > 0 ? value : 100;
})();

/** Seconds of CPU used by the trees under rootPids (including reaped children). */
export function treeCpuSeconds(rootPids: number[]): number {
  let ticks = 0;
  for (const pid of treePids(rootPids)) ticks += readProcStat(pid)?.treeTicks ?? 0; // an exited one counts 0
  return ticks / TICKS;
}

/** Busy CPU seconds of the whole machine (all cores) since boot. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + (steal ?? 0)) / TICKS;
}

export function benchCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

export interface CpuSnapshot {
  server: number;
  /** All servers the bench runs (the one measured and the idle ones). */
  servers: number;
  bench: number;
  machine: number;
  at: number;
}

export function cpuSnapshot(serverPids: number[], allServerPids: number[]): CpuSnapshot {
  return {
    server: treeCpuSeconds(serverPids),
    servers: treeCpuSeconds(allServerPids),
    bench: benchCpuSeconds(),
    machine: machineBusySeconds(),
    at: performance.now(),
  };
}

export interface CpuUse {
  /** Server CPU seconds per request, in ms. */
  serverMsPerRequest: number;
  /** Average cores busy: the server, the load generator (this process), everything else (not the bench's other, idle server). */
  serverCores: number;
  loadGeneratorCores: number;
  otherCores: number;
}

export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot, requests: number): CpuUse {
  const seconds = (b.at - a.at) / 1000;
  const server = b.server - a.server;
  const bench = b.bench - a.bench;
  const machine = b.machine - a.machine;
  const servers = b.servers - a.servers;
  return {
    serverMsPerRequest: requests ? (server * 1000) / requests : NaN,
    serverCores: server / seconds,
    loadGeneratorCores: bench / seconds,
    otherCores: Math.max(0, machine - servers - bench) / seconds,
  };
}
