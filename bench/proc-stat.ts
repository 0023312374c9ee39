/**
 * /proc/<pid>/stat, read once and parsed in one place. The command name (comm) may hold spaces and
 * parentheses, so the fields are split after the last ')'.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  /** The command name, without its parentheses. */
  name: string;
  /** R, S, D, Z (zombie), X (dead)… */
  state: string;
  ppid: number;
  pgrp: number;
  /** CPU ticks in user and kernel mode, the process's own. */
  ownTicks: number;
  /** The same, plus its reaped children's. */
  treeTicks: number;
}

/** The process's stat line, or undefined when it has exited. */
export function readProcStat(pid: number | string): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const close = text.lastIndexOf(')');
  // Fields after "(comm)": state=0 ppid=1 pgrp=2 … utime=11 stime=12 cutime=13 cstime=14.
  const f = text.slice(close + 2).split(' ');
  const own = Number(f[11]) + Number(f[12]);
  return {
    pid: Number(pid),
    name: text.slice(text.indexOf('(') + 1, close),
    state: f[0],
    ppid: Number(f[1]),
    pgrp: Number(f[2]),
    ownTicks: own,
    treeTicks: own + Number(f[13]) + Number(f[14]),
  };
}

/** Every process's stat now (those that exit while being read are left out). */
export function allProcStats(): ProcStat[] {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map(readProcStat).filter((s): s is ProcStat => s !== undefined);
}
