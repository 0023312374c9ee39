/**
 * Resident memory of process trees, from /proc (Linux). Worker threads live inside their process,
 * so a process's VmRSS already counts them; forked children (nginx and php-fpm workers) are found
 * through their parent pid and added.
 */
import { allProcStats } from './proc-stat.js';
import { readFileSync } from 'node:fs';

export interface TreeRss {
  /** Sum of VmRSS over the trees, in KiB. */
  kb: number;
  processes: number;
}

/** VmRSS summed over each root pid and all its descendants. */
export function treeRss(rootPids: number[]): TreeRss {
  const pids = treePids(rootPids);
  let kb = 0;
  for (const pid of pids) kb += vmRssKb(pid);
  return { kb, processes: pids.size };
}

/** Each root pid that is alive, and all its descendants. */
export function treePids(rootPids: number[]): Set<number> {
  const parentOf = new Map(allProcStats().map((stat) => [stat.pid, stat.ppid]));
  const childrenOf = new Map<number, number[]>();
  for (const [pid, ppid] of parentOf) {
    const list = childrenOf.get(ppid);
    if (list) list.push(pid);
    else childrenOf.set(ppid, [pid]);
  }
  const seen = new Set<number>();
  const queue = rootPids.filter((pid) => parentOf.has(pid));
  while (queue.length) {
    const pid = queue.shift()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    queue.push(...(childrenOf.get(pid) ?? []));
  }
  return seen;
}


function vmRssKb(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

export const mb = (kb: number) => Math.round(kb / 1024);
