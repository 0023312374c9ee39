/**
 * One load run with autocannon (in this process): N keep-alive connections to one URL, bounded by
 * duration and by request count, whichever comes first. Latencies are recorded here from each
 * response's own timing (autocannon's histogram has 1 ms resolution, too coarse for static files).
 */
import { createRequire } from 'node:module';

interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  resets: number;
  mismatches: number;
  '2xx': number;
  statusCodeStats: Record<string, { count: number }>;
  requests: { sent: number };
}
interface AutocannonInstance {
  on(event: 'response', listener: (client: unknown, statusCode: number, bytes: number, ms: number) => void): void;
  on(event: 'reqError', listener: (error: Error) => void): void;
  stop(): void;
}
type Autocannon = (opts: Record<string, unknown>, done: (error: Error | null, result: AutocannonResult) => void) => AutocannonInstance;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export interface LoadOptions {
  connections: number;
  durationSeconds: number;
  maxRequests: number;
  /** Per-request timeout. */
  timeoutSeconds: number;
  /** Called once when the measurement window closes (at the duration, or at the end if earlier). */
  atWindowEnd?: () => void;
  /** Paths each connection requests in turn, over and over (a mix); without it, the url's own path. */
  paths?: string[];
}

export interface LoadResult {
  requests: number;
  seconds: number;
  reqPerSec: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  /** Distinct error messages (connection errors, timeouts) with counts. */
  errorMessages: Record<string, number>;
  bytesPerResponse: number;
  /** Requests autocannon sent, in and after the window. */
  sent: number;
  /** Responses that came after the window closed: not counted. */
  lateResponses: number;
}

export function runLoad(url: string, opts: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    let latencies = new Float64Array(1 << 16);
    let count = 0;
    let bytes = 0;
    const errorMessages: Record<string, number> = {};
    const statusCodes: Record<string, number> = {};
    let non2xx = 0;
    const started = performance.now();
    const deadline = started + opts.durationSeconds * 1000;
    const maxRequests = Math.max(opts.maxRequests, opts.connections);
    let last = started;
    let late = 0;
    let windowClosed = false;
    const closeWindow = () => {
      if (windowClosed) return;
      windowClosed = true;
      opts.atWindowEnd?.();
    };
    const windowTimer = setTimeout(closeWindow, opts.durationSeconds * 1000);
    const instance = autocannon(
      {
        url,
        connections: opts.connections,
        pipelining: 1,
        duration: opts.durationSeconds,
        // The bound is on responses, counted here: a request autocannon writes to a connection the
        // server is closing (ours closes one after --max-requests-per-connection) is sent twice.
        maxOverallRequests: maxRequests * 2,
        timeout: opts.timeoutSeconds,
        ...(opts.paths ? { requests: opts.paths.map((path) => ({ method: 'GET', path })) } : {}),
      },
      (error, result) => {
        clearTimeout(windowTimer);
        closeWindow();
        if (error) return reject(error);
        // The window is the duration, or up to the last response when the count bound ended it first.
        const seconds = count >= maxRequests ? (last - started) / 1000 : opts.durationSeconds;
        const sorted = latencies.subarray(0, count).sort();
        const pick = (q: number) => (count ? sorted[Math.min(count - 1, Math.floor(q * count))] : NaN);
        let sum = 0;
        for (const v of sorted) sum += v;
        resolve({
          requests: count,
          seconds,
          reqPerSec: count / seconds,
          latencyMs: { p50: pick(0.5), p90: pick(0.9), p99: pick(0.99), max: count ? sorted[count - 1] : NaN, mean: count ? sum / count : NaN },
          errors: result.errors,
          timeouts: result.timeouts,
          non2xx,
          statusCodes,
          errorMessages,
          bytesPerResponse: count ? Math.round(bytes / count) : 0,
          lateResponses: late,
          sent: result.requests.sent,
        });
      },
    );
    instance.on('response', (_client, status, resBytes, ms) => {
      const now = performance.now();
      if (now > deadline || count >= maxRequests) {
        late++; // after the window closed (autocannon stops on its next 1 s tick), or past the count
        return;
      }
      last = now;
      if (count === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[count++] = ms;
      if (count === maxRequests) instance.stop();
      statusCodes[status] = (statusCodes[status] ?? 0) + 1;
      if (status < 200 || status > 299) non2xx++;
      bytes += resBytes;
    });
    instance.on('reqError', (error) => {
      const key = error?.message ?? String(error);
      errorMessages[key] = (errorMessages[key] ?? 0) + 1;
    });
  });
}
