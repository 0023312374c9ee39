/** A server under test, as the rest of the bench sees it. */
import type { Child } from './children.js';
import type { ServerName } from './report.js';
import type { TreeRss } from './rss.js';

export interface Target {
  name: ServerName;
  /** What it is, for the report. */
  label: string;
  /** PHP workers (php-fpm children) in all its processes together. */
  workers: number;
  /** e.g. http://127.0.0.1:41234 (no trailing slash) */
  baseUrl: string;
  /** The WordPress tree it serves. */
  wordpressDir: string;
  /** Resident memory of all its processes. */
  rss(): TreeRss;
  /** Its processes, whose logs the report quotes when something fails. */
  children: Child[];
  /**
   * Processes it uses but shares with the other servers and does not stop (the database): their
   * CPU during its measurement is part of its cost, their memory is not in rss().
   */
  shared?: Child[];
  /**
   * Processes that each warm up on their own (opcache, V8's optimised php.wasm): the warm-up is this
   * many times --warmup and --warmup-requests, so each gets what a single one gets. Default 1.
   */
  warmupScale?: number;
  /** Its log files (quoted when they gain lines during the measurements). */
  logFiles: string[];
  /** Setup notes worth printing (reinstalls, first-run assembly). */
  notes: string[];
  /** Seconds from spawn to serving the installed site. */
  startSeconds: number;
  /** Seconds from spawn to the first 200 home page, when timed (a restart on the prepared site). */
  firstPageSeconds?: number;
  /** Cores other processes used while that start was timed (≥ QUIET_CORES: skewed). */
  firstPageOtherCores?: number;
  /** Every timed start's first page, in the order started, when it was started more than once (rounds.ts). */
  firstPageRounds?: number[];
  stop(): Promise<void>;
  /** Whether its workers are all there, idle, and none extra (see warm-workers.ts); memory is read only then. */
  atRest?(): Promise<boolean>;
  /** Workers (php-fpm children) that have left for reaching their request limit, so far; when counted. */
  recycles?(): Promise<number>;
}

/** Everything whose CPU counts as the target's, and whose death ends its measurements. */
export function processesOf(target: Target): Child[] {
  return [...target.children, ...(target.shared ?? [])];
}
