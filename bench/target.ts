/** A server under test, as the rest of the bench sees it. */
import type { Child } from './children.js';
import type { TreeRss } from './rss.js';

export interface Target {
  name: 'ours' | 'native';
  /** What it is, for the report. */
  label: string;
  /** e.g. http://127.0.0.1:41234 (no trailing slash) */
  baseUrl: string;
  /** The WordPress tree it serves. */
  wordpressDir: string;
  /** Resident memory of all its processes. */
  rss(): TreeRss;
  /** Its processes, whose logs the report quotes when something fails. */
  children: Child[];
  /** Its log files (quoted when they gain lines during the measurements). */
  logFiles: string[];
  /** Setup notes worth printing (reinstalls, first-run assembly). */
  notes: string[];
  /** Seconds from spawn to serving the installed site. */
  startSeconds: number;
  stop(): Promise<void>;
}
