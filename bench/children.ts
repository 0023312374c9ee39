/**
 * Child processes of the bench (our server, nginx, php-fpm). Each runs in its own process group
 * (detached), so stopping it also stops what it forked (nginx and php-fpm workers). Every child is
 * stopped when the bench ends, however it ends: normal exit, error, SIGINT/SIGTERM or the overall
 * time limit. Their pids are also written to a file so the next run can end children left behind
 * by a bench that was killed outright (SIGKILL gives no chance to clean up).
 */
import { allProcStats } from './proc-stat.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Child {
  name: string;
  pid: number;
  logFile: string;
  /** Set once the process has exited. */
  exitCode: number | null | undefined;
  exited: Promise<void>;
  process: ChildProcess;
}

interface PidRecord {
  name: string;
  pid: number;
  /** Text that must appear in /proc/<pid>/cmdline for the pid to still be ours. */
  marker: string;
}

const children: Child[] = [];
let pidFile: string | undefined;
let records: PidRecord[] = [];

/** Where running children are recorded; ends children a previous, killed bench left behind. */
export async function usePidFile(file: string): Promise<void> {
  pidFile = file;
  let stale: PidRecord[] = [];
  try {
    stale = JSON.parse(readFileSync(file, 'utf8')) as PidRecord[];
  } catch {
    // none
  }
  const killed: number[] = [];
  for (const record of stale) {
    if (!cmdline(record.pid).includes(record.marker)) continue;
    process.stderr.write(`bench: ending ${record.name} (pid ${record.pid}) left running by an earlier bench\n`);
    killGroup(record.pid, 'SIGKILL');
    killed.push(record.pid);
  }
  // Until they are gone they still hold their ports.
  const deadline = Date.now() + 10_000;
  while (killed.some(groupAlive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  records = [];
  savePids();
}

/** True while any process of the group is alive (zombies, which hold no ports, don't count). */
function groupAlive(pgid: number): boolean {
  return allProcStats().some((stat) => stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X');
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  logFile: string;
  /** Text of the command line that identifies this process (for stale-process cleanup). */
  marker: string;
}

export function spawnChild(name: string, command: string, args: string[], opts: SpawnOptions): Child {
  mkdirSync(dirname(opts.logFile), { recursive: true });
  const fd = openSync(opts.logFile, 'w');
  let proc: ChildProcess;
  try {
    proc = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', fd, fd], detached: true });
  } finally {
    closeSync(fd);
  }
  if (proc.pid === undefined) throw new Error(`cannot start ${name} (${command})`);
  const child: Child = {
    name,
    pid: proc.pid,
    logFile: opts.logFile,
    exitCode: undefined,
    process: proc,
    exited: new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        child.exitCode = code ?? (signal ? -1 : null);
        resolve();
      });
      proc.once('error', () => {
        child.exitCode ??= -1;
        resolve();
      });
    }),
  };
  children.push(child);
  records.push({ name, pid: proc.pid, marker: opts.marker });
  savePids();
  return child;
}

/** SIGTERM to each child's process group, SIGKILL to what is left after graceMs. */
export async function stopChild(child: Child, graceMs = 5000): Promise<void> {
  if (child.exitCode === undefined) {
    killGroup(child.pid, 'SIGTERM');
    const timer = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), graceMs).unref());
    const done = await Promise.race([child.exited.then(() => true), timer]);
    if (!done) killGroup(child.pid, 'SIGKILL');
  }
  killGroup(child.pid, 'SIGKILL'); // forked workers that outlived their parent
  const index = children.indexOf(child);
  if (index >= 0) children.splice(index, 1);
  records = records.filter((r) => r.pid !== child.pid);
  savePids();
}

export async function stopAllChildren(graceMs = 5000): Promise<void> {
  await Promise.all([...children].map((child) => stopChild(child, graceMs)));
}

/** Last resort, synchronous (process 'exit'): SIGKILL every child's group. */
export function killAllChildrenNow(): void {
  for (const child of children) killGroup(child.pid, 'SIGKILL');
  children.length = 0;
  records = [];
  savePids();
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

function savePids(): void {
  if (!pidFile) return;
  try {
    if (records.length === 0) rmSync(pidFile, { force: true });
    else writeFileSync(pidFile, JSON.stringify(records));
  } catch {
    // best effort
  }
}

/** The last lines of a child's log, for error reports. */
export function logTail(child: Child, lines = 20): string {
  try {
    return readFileSync(child.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
