import { prepareSessionDir } from './config/session-dir.js';
import { sweepDeadServerTempDirs } from './server-temp-dirs.js';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp } from './app.js';
import { PageCache } from './page-cache/page-cache.js';
import type { PhpJob } from './cgi.js';
import { localPhpJob } from './local-job.js';
import type { ServerConfig } from './config/types.js';
import { imagesKeepRandomnessApart } from './pool/warm-images.js';
import { iniAllowsKeptImages, type KeptImages } from './pool/kept-image.js';
import { keptImageIdentity } from './pool/kept-image-identity.js';
import { createDocrootView } from './docroot-view.js';
import { buildPhpIni, buildPrepend, GUEST_PREPEND, GUEST_SESSION_DIR, memoryCeilingBytes, type SelfCallConstants } from './php-ini.js';
import { randomBytes } from 'node:crypto';
import { WorkerPool, type ReloadableSettings } from './pool/pool.js';
import { planReload, type ReloadPlan } from './reload-plan.js';
import { OPCACHE_STATUS_PATH, OPCACHE_STATUS_SCRIPT } from './pool/opcache-sample.js';
import { INVALIDATE_CODE_PATH, INVALIDATE_CODE_SCRIPT } from './pool/stale-code.js';
import { loadMallocTrim } from './malloc-trim.js';
import { QuietTrimmer } from './pool/quiet-trim.js';
import { compilePhpModule, phpModuleOrigin } from './pool/wasm-module.js';
import { serverCodeCacheLocation } from './wasm-code-cache/location.js';
import { CodeCacheWriter } from './wasm-code-cache/code-writer.js';
import { connectableHost } from './host-address.js';
import type { AddressInfo } from 'node:net';
import { startAdmin } from './admin.js';
import { validateSettings } from './config/validate.js';
import { MailRelay } from './mail/mail-relay.js';
import { smtpTransportSettings } from './mail/smtp-settings.js';
import { lockSite } from './site-lock.js';
import { listenForSelfCalls, type SelfCallListener } from './http/self-calls.js';
import { selfDestinations } from './sandbox/self-route.js';
import { logHostFsCalls } from './pool/host-fs-calls-channel.js';
import { GUEST_OPCACHE_FILE_CACHE } from './opcache-file-cache/cache-folder.js';
import { SiteCompiler } from './opcache-file-cache/site-compiler.js';
import { compilerSettings } from './opcache-file-cache/compiler.js';

export interface RunningServer {
  app: FastifyInstance;
  pool: WorkerPool;
  /** Where this machine reaches the server, e.g. http://127.0.0.1:8087 (never a wildcard address). */
  url: string;
  /** The admin listener (health, readiness, metrics), when --admin-port is set. */
  adminUrl?: string;
  port: number;
  close(): Promise<void>;
  /**
   * Applies a new configuration (SIGHUP): reloadable settings take effect as workers are replaced one
   * at a time; the others keep their running values until a restart (see reload-plan.ts).
   */
  reload(next: ServerConfig, alsoReloadable?: readonly string[]): Promise<ReloadPlan>;
  /** Runs before shutdown starts (timers and other background work stop first). */
  onClose(stop: () => void): void;
  /** The page cache (--page-cache), for purges signalled outside a visitor's request (WordPress's cron). */
  pageCache?: PageCache;
}

const SHUTDOWN_GRACE_MS = 10_000;

export interface StartOptions {
  /**
   * Listen while the first worker boots (default). False: only once it is warm, as a site whose
   * installer is about to be submitted needs (see wordpress/start.ts).
   */
  listenWhileBooting?: boolean;
}

/**
 * Starts the pool and listens while its first worker boots; resolves once that worker served (its
 * warm-up, or the visitors who came meanwhile). `wasmModule`: php.wasm already being compiled (the WordPress command starts
 * it before it assembles a new site, so the two overlap).
 */
export async function startServer(config: ServerConfig, log: Logger, wasmModule?: Promise<WebAssembly.Module>, { listenWhileBooting = true }: StartOptions = {}): Promise<RunningServer> {
  const started = performance.now();
  // Before anything is held: a bad --smtp or a missing password throws here, leaking nothing.
  const smtp = config.smtp === undefined ? undefined : smtpTransportSettings(config.smtp, config.smtpRequireTls, process.env);
  // Refused (SiteInUseError) while a `php` job has the site; released when the server closes.
  const siteLock = lockSite(config.docroot, 'server');
  let sessionDir: ReturnType<typeof prepareSessionDir>;
  let compiler: SiteCompiler;
  try {
    sessionDir = prepareSessionDir(config.sessionDir);
  } catch (error) {
    siteLock.release();
    throw error;
  }
  let poolForProbes: WorkerPool | undefined;
  let draining = false;
  // Loaded only for the admin port: prom-client takes ~45 ms of CPU to load, on the start's critical path.
  const metrics = config.adminPort === undefined ? undefined : new (await import('./metrics.js')).ServerMetrics(() => poolForProbes);
  try {
    // Every host folder PHP can write besides: the session folder too.
    const phpFolders = [...config.mounts.map((mount) => mount.host), sessionDir.path];
    compiler = new SiteCompiler(config.opcacheFileCache, config.docroot, phpFolders, log, metrics);
  } catch (error) {
    sessionDir.dispose();
    siteLock.release();
    throw error;
  }
  const folders = { sessionDir: sessionDir.path, opcacheFileCache: compiler.path };
  const swept = sweepDeadServerTempDirs();
  if (swept.length) log.info({ folders: swept }, 'removed temp folders that servers which ended without closing left behind');
  // The admin listener comes up first, so an orchestrator sees "starting" rather than no answer.
  const admin = metrics && await startAdmin({ host: config.adminHost, port: config.adminPort!, log, metrics, pool: () => poolForProbes, draining: () => draining });
  const mail = new MailRelay({ smtp, maxPerHour: config.smtpMaxPerHour, log });
  const hostFsCalls = logHostFsCalls(log);
  let selfCalls: SelfCallListener | undefined;
  let selfCall!: SelfCallConstants;
  let pool!: WorkerPool;
  let phpModule!: WebAssembly.Module;
  let app!: ReturnType<typeof buildApp>;
  let port!: number;
  const routeSelfCalls = (settings: ServerConfig) => pool.setSelfRoute({
    destinations: [...selfDestinations(settings.host, port, settings.siteUrl), `localhost:${selfCalls!.port}`, `127.0.0.1:${selfCalls!.port}`],
    targetPort: selfCalls!.port,
  });
  const pageCache = config.pageCache
    ? new PageCache({ ttlMs: config.pageCacheTtl * 1000, maxBytes: config.pageCacheSize, maxEntryBytes: Math.floor(config.pageCacheSize / 16) })
    : undefined;
  try {
    // Before the workers: PHP is told where to reach the server directly (see php-ini.ts).
    selfCalls = await listenForSelfCalls({ headersTimeoutMs: config.headerTimeout * 1000, keepAliveTimeoutMs: config.keepAliveTimeout * 1000, maxHeaderSize: config.maxHeaderSize });
    selfCall = { url: `http://localhost:${selfCalls.port}`, token: randomBytes(24).toString('hex') };
    const module = wasmModule ?? compilePhpModule(config.php, serverCodeCacheLocation(config));
    await compiler.beforeWorkersStart(compileSettings(config));
    const keptImages = await keptImagesFor(config, folders, log);
    // The first worker starts while php.wasm is still being made (see PoolOptions.wasmModule).
    pool = new WorkerPool({
      wasmModule: module,
      log,
      observer: metrics,
      mail: (args, message, worker) => mail.deliver(args, message, worker),
      codeChanged: (guestPaths) => compiler.forget(guestPaths),
      warmImages: config.workerImage && imagesKeepRandomnessApart(config.php),
      ...(keptImages ? { keptImages } : {}),
      resetsPerThread: config.workerResets,
      ...workerSettings(config, folders, selfCall, hostFsCalls?.channel),
    });
    poolForProbes = pool;
    const poolStarted = pool.start();
    poolStarted.catch(() => undefined); // awaited below: a module that cannot be made is the error to report
    // While the first worker boots, the main thread has nothing else to do.
    app = buildApp({ config, pool, log, metrics, draining: () => draining, selfCallToken: selfCall.token, pageCache });
    await app.ready();
    if (!listenWhileBooting) await poolStarted;
    // A port in use fails here: everything held so far is let go, as for any failure above.
    await app.listen({ host: config.host, port: config.port });
    // Listening before a worker is warm: the first visitors wait in the queue, and the first worker
    // serves them instead of its warm-up (see WorkerPool.visitorsWaitOnlyFor). PHP may call this
    // server from their pages, so it knows where from now on.
    const address = app.server.address();
    port = typeof address === 'object' && address ? address.port : config.port;
    selfCalls.serve(app);
    routeSelfCalls(config);
    phpModule = await module;
    logModuleOrigin(phpModule, config.opcacheFileCache !== undefined, log);
    await poolStarted;
  } catch (error) {
    // The pool first: it answers requests already waiting (the port listens early) with a 503 at once.
    await poolForProbes?.close(0);
    await app?.close();
    await admin?.close();
    await selfCalls?.close();
    await compiler.close();
    sessionDir.dispose();
    mail.close();
    hostFsCalls?.close();
    siteLock.release();
    throw error;
  }
  const url = `http://${connectableHost(config.host)}:${port}`;
  const listener = selfCalls!;
  const adminUrl = admin ? `http://${connectableHost(config.adminHost)}:${(admin.server.address() as AddressInfo).port}` : undefined;
  log.info({ url, adminUrl, docroot: config.docroot, workers: config.workers, php: config.php, mail: smtp?.display ?? 'off', bootMs: Math.round(performance.now() - started) }, 'listening');
  const compileSite = (settings: ServerConfig) => compiler.compileWhenStarted(pool, compilerSettings(workerSettings(settings, folders, selfCall).boot, phpModule));
  compileSite(config);

  const stoppers: Array<() => void> = [];
  const trimmer = startQuietTrim(pool, () => compiler.compilesEnded, log);
  stoppers.push(() => trimmer.stop());
  const codeWriter = startCodeCacheWriter(config.opcacheFileCache, phpModule, pool, log);
  if (codeWriter) stoppers.push(() => codeWriter.stop());
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= (async () => {
    draining = true;
    for (const stop of stoppers) stop();
    const appClosed = Promise.all([listener.close(), app.close()]);
    await Promise.race([appClosed, new Promise((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS).unref())]);
    await pool.close(1000);
    await compiler.close();
    await admin?.close();
    mail.close();
    hostFsCalls?.close();
    sessionDir.dispose();
    siteLock.release();
  })());
  let running = config;
  const reload = async (next: ServerConfig, alsoReloadable: readonly string[] = []): Promise<ReloadPlan> => {
    const plan = planReload(running, next, alsoReloadable);
    // New values beside kept ones must still agree (a smaller tmpSize with the running maxBody): else refused.
    validateSettings(plan.config);
    if (plan.needRestart.length) log.warn({ settings: plan.needRestart }, 'reload: these settings need a restart; they keep their running values');
    running = plan.config;
    log.level = running.logLevel;
    log.info({ settings: plan.applied }, 'reload: replacing workers one at a time');
    routeSelfCalls(running);
    await compiler.beforeWorkersStart(compileSettings(running));
    await pool.reconfigure(workerSettings(running, folders, selfCall, hostFsCalls?.channel));
    compileSite(running);
    // Pages made with the old settings (a site URL, a prepend) must not outlive them.
    if (plan.applied.length) pageCache?.purge();
    log.info({ settings: plan.applied }, 'reload done');
    return plan;
  };
  return { app, pool, url, adminUrl, port, close, reload, onClose: (stop) => stoppers.push(stop), pageCache };
}

/** What the workers are started with and the pool's limits: everything a reload can change. */
function workerSettings(config: ServerConfig, folders: { sessionDir: string; opcacheFileCache: string }, selfCall: SelfCallConstants, hostFsCallsChannel?: string): ReloadableSettings {
  return {
    size: config.workers,
    maxRequests: config.maxRequests,
    queueLimit: config.queueLimit,
    queueTimeoutMs: config.queueTimeout * 1000,
    requestTimeoutMs: config.requestTimeout * 1000,
    selfCallWorkers: config.selfCallWorkers,
    boot: {
      phpVersion: config.php,
      docroot: config.docroot,
      mounts: [
        ...config.mounts,
        { host: folders.sessionDir, guest: GUEST_SESSION_DIR, readOnly: false },
        { host: folders.opcacheFileCache, guest: GUEST_OPCACHE_FILE_CACHE, readOnly: true },
      ],
      env: config.env,
      phpIni: buildPhpIni(config, { opcacheFileCache: GUEST_OPCACHE_FILE_CACHE }),
      files: { [GUEST_PREPEND]: buildPrepend(config, selfCall), [OPCACHE_STATUS_PATH]: OPCACHE_STATUS_SCRIPT, [INVALIDATE_CODE_PATH]: INVALIDATE_CODE_SCRIPT },
      allowNetwork: config.allowNetwork,
      connectTo: config.connectTo,
      tmpSize: config.tmpSize,
      memoryCeiling: memoryCeilingBytes(config),
      ...(hostFsCallsChannel ? { hostFsCallsChannel } : {}),
    },
    warmup: warmupJobs(config),
    maxWorkerMemoryGrowth: config.maxWorkerMemory,
    sendTimeoutMs: config.sendTimeout * 1000,
  };
}

/** Warm-up requests as a local visitor would send them, so each worker compiles the hot code first. */
function warmupJobs(config: ServerConfig): PhpJob[] {
  const view = createDocrootView(config.docroot);
  return config.warmup.map((path) => localPhpJob(config, view, path)).filter((job): job is PhpJob => job !== null);
}

/**
 * Where the warm image is kept for the next start (see pool/kept-image.ts): beside php.wasm's code,
 * in a kept opcache file cache folder, and only while opcache compares files' times (without, a
 * restart is what makes edits show, and the compiled files are dropped at each start for that).
 * Not at all when what names the image cannot be read: the server starts as before.
 */
async function keptImagesFor(config: ServerConfig, folders: { sessionDir: string; opcacheFileCache: string }, log: Logger): Promise<KeptImages | undefined> {
  if (!config.workerImage || !imagesKeepRandomnessApart(config.php) || config.opcacheFileCache === undefined) return undefined;
  if (!iniAllowsKeptImages(buildPhpIni(config, { opcacheFileCache: GUEST_OPCACHE_FILE_CACHE }))) return undefined;
  try {
    return { root: config.opcacheFileCache, identity: await keptImageIdentity(config.php), unkeyedHosts: [folders.sessionDir, folders.opcacheFileCache] };
  } catch (error) {
    log.warn({ err: error }, 'the warm image cannot be kept for the next start: what names it could not be read');
    return undefined;
  }
}

/** What the compiled files in the opcache folder depend on besides their sources (see SiteCompiler). */
function compileSettings(config: ServerConfig): { phpIni: string; phpVersion: string; validateTimestamps: boolean } {
  return { phpIni: buildPhpIni(config, { opcacheFileCache: GUEST_OPCACHE_FILE_CACHE }), phpVersion: config.php, validateTimestamps: config.opcacheValidate };
}

/** Where the workers' php.wasm came from: the machine code a run before optimised, or a compile (and why). */
function logModuleOrigin(module: WebAssembly.Module, cacheConfigured: boolean, log: Logger): void {
  const origin = phpModuleOrigin(module);
  if (!origin) return;
  const how = { ms: origin.ms, inThread: origin.inThread === true, ...(origin.digestRemembered !== undefined ? { digestRemembered: origin.digestRemembered } : {}) };
  if (origin.loadedFromCache) log.info(how, "php.wasm: loaded the optimised machine code of a run before");
  else log.debug({ ...how, ...(cacheConfigured && origin.cacheMiss ? { cache: origin.cacheMiss } : {}) }, 'php.wasm: compiled');
}

/** Saves php.wasm's optimised code beside the compiled scripts for the next start (a kept folder only). */
function startCodeCacheWriter(root: string | undefined, module: WebAssembly.Module, pool: WorkerPool, log: Logger): CodeCacheWriter | undefined {
  const origin = phpModuleOrigin(module);
  // Without a key the process's module was made without a code cache (another server in this process made it).
  if (root === undefined || !origin?.key) return undefined;
  const writer = new CodeCacheWriter(root, module, origin.key, origin.loadedFromCache, {
    quiet: () => {
      const stats = pool.stats;
      return !stats.closing && stats.queued === 0 && stats.idle === stats.workers;
    },
    requestsDispatched: () => pool.requestsDispatched,
    probeOptimizedCode: () => pool.probeOptimizedCode(),
  }, log);
  writer.start();
  return writer;
}

/**
 * Returns freed memory to the system whenever the pool goes quiet after work or a compile of the
 * site: the workers' wasm pages that are all zeros, and glibc's free memory (see pool/quiet-trim.ts).
 */
function startQuietTrim(pool: WorkerPool, compilesEnded: () => number, log: Logger): QuietTrimmer {
  const mallocTrim = loadMallocTrim(log);
  const trimmer = new QuietTrimmer({
    quiet: () => {
      const stats = pool.stats;
      return !stats.closing && stats.queued === 0 && stats.idle === stats.workers;
    },
    activity: () => `${pool.workerStates().map((worker) => `${worker.slot}:${worker.requests}`).join(',')} ${compilesEnded()}`,
  }, async () => {
    pool.releaseIdleMemory(); // the workers answer on their own (logged each); the trim's RSS reading is before them
    await mallocTrim?.();
  }, log);
  trimmer.start();
  return trimmer;
}
