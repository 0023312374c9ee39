import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { loadConfig } from '../../server/config/load.js';
import type { ServerConfig } from '../../server/config/types.js';
import { startServer, type RunningServer, type StartOptions } from '../../server/server.js';
import { projectRoot } from '../../server/paths.js';
import { until } from './until.js';

export const FIXTURE_DOCROOT = join(projectRoot, 'test', 'fixtures', 'docroot');

export interface TestServer extends RunningServer {
  config: ServerConfig;
  /** Every log line the server wrote, parsed. */
  logs: Array<Record<string, unknown>>;
}

/**
 * A real server (real php.wasm workers, real HTTP on 127.0.0.1, a free port) with the documented
 * defaults plus `overrides`. Logs are captured for assertions instead of printed.
 */
export async function startTestServer(overrides: Partial<ServerConfig> = {}): Promise<TestServer> {
  return bootTestServer(overrides).server;
}

/**
 * startTestServer, with the log visible while the server is still starting. The server listens while
 * its first worker boots and starts the others once it is warm (pool-lifecycle.test tests that order); tests
 * here are about the whole pool, so the promise resolves once every worker is warm, unless
 * `firstWorkerOnly` (a pool whose workers cannot all start).
 */
export function bootTestServer(overrides: Partial<ServerConfig> = {}, { firstWorkerOnly = false } = {}, start: StartOptions = {}): { logs: Array<Record<string, unknown>>; server: Promise<TestServer> } {
  const { config: defaults } = loadConfig({ argv: [], env: {}, cwd: projectRoot });
  const sessionDir = mkdtempSync(join(tmpdir(), 'pws-sessions-'));
  const config: ServerConfig = { ...defaults, docroot: FIXTURE_DOCROOT, port: 0, workers: 2, sessionDir, ...overrides };
  const { log, logs } = captureLogger();
  const server = startServer(config, log, undefined, start).then(async (running) => {
    if (!firstWorkerOnly) {
      await until(`all ${config.workers} workers to be warm`, () => running.pool.stats.idle >= config.workers, 120_000)
        .catch(async (error: unknown) => { await running.close(); throw error; });
    }
    const close = running.close;
    return Object.assign(running, {
      config,
      logs,
      close: async () => {
        await close();
        rmSync(sessionDir, { recursive: true, force: true });
      },
    });
  });
  return { logs, server };
}

/** A pino logger that keeps every line (parsed) in `logs` instead of printing it. */
export function captureLogger(): { log: Logger; logs: Array<Record<string, unknown>> } {
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  return { log: pino({ level: 'debug', base: undefined }, sink), logs };
}

/** A temporary folder removed when the test ends. */
export function tempDir(t: { teardown(fn: () => void): void }, prefix = 'pws-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
