/**
 * opcache's memory, sized to what the site uses. php.wasm zeroes the shared memory opcache maps, so
 * each worker keeps every MB of `opcache.memory_consumption` resident, used or not (64 MB: 89 MB of
 * wasm memory per worker, 32 MB: 57). WordPress with its default theme uses 28 MB after every public
 * and admin screen, a site with plugins more. So workers start small, and when a worker's opcache is
 * nearly full, workers booted from then on get twice as much, up to a ceiling, and that worker is
 * replaced by one of them. A size set in php.ini or with --ini is the user's: it stays, and a full
 * opcache is only reported.
 */
import type { OpcacheSample } from './opcache-sample.js';

/** Free share of opcache's memory under which it counts as full. */
export const OPCACHE_NEARLY_FULL = 0.05;

export interface OpcacheGrowth {
  /** What the first workers get, in MB. */
  startMb: number;
  /** Never more than this, in MB. */
  maxMb: number;
}

export const DEFAULT_OPCACHE_GROWTH: OpcacheGrowth = { startMb: 32, maxMb: 256 };

/** What the pool does after a worker's opcache sample. */
export type OpcacheVerdict =
  /** Room left. */
  | { kind: 'fine' }
  /** Nearly full, and a bigger size is (now) available: replace the worker; `grewFromMb` when this sample raised it. */
  | { kind: 'replace'; grewFromMb?: number }
  /** Nearly full at the ceiling, or at a size the user set: say so. */
  | { kind: 'full' };

export class OpcacheSizing {
  private currentMb: number | undefined;

  /** `growth` undefined: the size is php.ini's (the user set it). */
  constructor(private readonly growth: OpcacheGrowth | undefined) {
    this.currentMb = growth?.startMb;
  }

  /** The size the next worker boots with (MB), or undefined when php.ini decides. */
  get nextWorkerMb(): number | undefined {
    return this.currentMb;
  }

  /** The php.ini line that sizes the next worker's opcache (empty when php.ini decides); later lines win. */
  iniLine(): string {
    return this.currentMb === undefined ? '' : `\nopcache.memory_consumption = ${this.currentMb}\n`;
  }

  /** Starts at the size an earlier run grew to (a kept warm image's); false when it is not one this sizing can take. */
  resume(mb: number): boolean {
    if (!this.growth || !Number.isInteger(mb) || mb < this.growth.startMb || mb > this.growth.maxMb) return false;
    this.currentMb = mb;
    return true;
  }

  /** `workerMb`: the size that worker booted with. */
  judge(sample: OpcacheSample, workerMb: number | undefined): OpcacheVerdict {
    const size = sample.usedBytes + sample.freeBytes;
    if (size <= 0 || sample.freeBytes / size >= OPCACHE_NEARLY_FULL) return { kind: 'fine' };
    if (!this.growth || this.currentMb === undefined || workerMb === undefined) return { kind: 'full' };
    if (workerMb < this.currentMb) return { kind: 'replace' }; // another worker already raised it
    if (this.currentMb >= this.growth.maxMb) return { kind: 'full' };
    const from = this.currentMb;
    this.currentMb = Math.min(this.currentMb * 2, this.growth.maxMb);
    return { kind: 'replace', grewFromMb: from };
  }
}

/** Whether php.ini text sets opcache's size itself (config/php.ini, --ini, the config file). */
export function iniSetsOpcacheSize(phpIni: string): boolean {
  return /^\s*opcache\.memory_consumption\s*=/m.test(phpIni);
}
