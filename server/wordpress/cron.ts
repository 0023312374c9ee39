import type { Logger } from 'pino';
import { createDocrootView } from '../docroot-view.js';
import { localPhpJob } from '../local-job.js';
import type { RunningServer } from '../server.js';
import type { WordPressConfig } from './options.js';
import { SERVER_JOB_VARIABLE } from './database-php.js';
import { PURGE_HEADER } from '../page-cache/serve.js';

/**
 * WP-Cron normally runs when a page load makes WordPress request its own wp-cron.php: cron then
 * depends on visitors, and the spawn costs a self-call. The server runs it on a timer instead, one
 * run at a time, and WordPress's own spawning is turned off meanwhile (see start.ts).
 */
/** How long one wp-cron.php run may take (at least --request-timeout). */
const CRON_TIMEOUT_MS = 10 * 60_000;

export function startCron(server: RunningServer, config: WordPressConfig, log: Logger): void {
  if (!config.cronInterval) return;
  const view = createDocrootView(config.dir);
  let running = false;
  const tick = async () => {
    if (running) return;
    // No doing_wp_cron parameter: that is for WordPress's own spawn (it must match a lock it set);
    // without it wp-cron.php takes the lock itself, as for a system cron job.
    const job = localPhpJob(config, view, '/wp-cron.php', server.port);
    if (!job) return;
    // Marks the run as the server's (a CGI variable no client can set): on a shared database the
    // replicas' runs take turns through a lock (database-php.ts).
    job.server[SERVER_JOB_VARIABLE] = 'cron';
    running = true;
    const started = performance.now();
    try {
      // wp-cron.php does slow work by design (update checks wait up to 30 s per request): stopped at
      // the visitors' limit, it left WordPress's cron lock taken and its jobs undone.
      const response = await server.pool.run(job, null, undefined, { timeoutMs: Math.max(config.requestTimeout * 1000, CRON_TIMEOUT_MS) });
      for await (const _ of response.body); // eslint-disable-line @typescript-eslint/no-unused-vars -- drain
      const skipped = response.headers['x-php-wasm-server-cron']?.[0];
      // Cron publishes scheduled posts: their purge request comes back here, not through a visitor's request.
      if (response.headers[PURGE_HEADER] !== undefined) server.pageCache?.purge();
      log.debug({ status: response.status, ms: Math.round(performance.now() - started), ...(skipped ? { skipped } : {}) }, skipped ? 'wp-cron skipped' : 'wp-cron ran');
    } catch (error) {
      log.warn({ err: error }, 'wp-cron run failed');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), config.cronInterval * 1000);
  timer.unref();
  server.onClose(() => clearInterval(timer));
}
