#!/usr/bin/env node
/**
 * `php-wasm-server [--docroot DIR --port N ...]` serves a PHP docroot;
 * `php-wasm-server wordpress [--dir DIR ...]` assembles (first run) and serves WordPress.
 */
import type { Logger } from 'pino';
import { ConfigError } from './config/coerce.js';
import { loadConfig } from './config/load.js';
import { OPTIONS, type OptionSpec } from './config/options.js';
import { plainText } from './config/schema.js';
import { requireDirectory, validateSettings } from './config/validate.js';
import { preloadPhpModule } from './pool/wasm-module.js';
import { runsOnGlibc } from './malloc-tunables.js';
import type { RunningServer } from './server.js';
import { SiteInUseError } from './site-lock.js';
import { SERVER_SOFTWARE } from './version.js';
import type { ServerConfig } from './config/types.js';
import { serverCodeCacheLocation, wordpressCodeCacheLocation } from './wasm-code-cache/location.js';
import { loadWordPressConfig } from './wordpress/load-config.js';
import { WORDPRESS_OPTIONS } from './wordpress/options.js';

/** sysexits.h: try again later (the site is busy with a server or a job). */
const EX_TEMPFAIL = 75;

/**
 * php.wasm's module is made in a thread of its own. Whether this is glibc is asked first (the answer
 * is kept): Node's report, which says so, waits for every worker thread (see runsOnGlibc).
 */
function startMakingPhpModule(...args: Parameters<typeof preloadPhpModule>): void {
  runsOnGlibc();
  preloadPhpModule(...args);
}

// The server itself (Fastify, @php-wasm, the pool: ~0.4 s of imports) is imported only once the
// configuration is read and php.wasm's module is being made in a thread of its own meanwhile.
async function main(argv: string[]): Promise<number> {
  const isWordPress = argv[0] === 'wordpress';
  const args = isWordPress || argv[0] === 'serve' ? argv.slice(1) : argv;
  try {
    if (argv[0] === 'php') return await (await import('./php-command.js')).runPhpCommand(argv.slice(1), process.env, process.cwd());
    if (isWordPress) {
      const { config, help } = loadWordPressConfig(args, process.env, process.cwd());
      if (help) return printHelp([...OPTIONS, ...WORDPRESS_OPTIONS], 'wordpress ');
      validateSettings(config);
      startMakingPhpModule(config.php, wordpressCodeCacheLocation(config));
      const { startWordPress, wordpressServerConfig, WORDPRESS_RELOADABLE } = await import('./wordpress/start.js');
      const reload = async (server: RunningServer) => {
        const next = loadWordPressConfig(args, process.env, process.cwd()).config;
        validateSettings(next);
        return server.reload(wordpressServerConfig(next), WORDPRESS_RELOADABLE);
      };
      return await serveUntilSignal(config.logLevel, (log) => startWordPress(config, log), reload);
    }
    const { config, help, positionals } = loadConfig({ argv: args, env: process.env, cwd: process.cwd() });
    if (help) return printHelp(OPTIONS);
    if (positionals.length) throw new ConfigError('command', 'must be "wordpress", "serve", "php" or none', positionals[0], 'command line');
    requireDirectory(config.docroot, 'docroot');
    validateSettings(config);
    startMakingPhpModule(config.php, serverCodeCacheLocation(config));
    const { startServer } = await import('./server.js');
    const reload = (server: RunningServer) => server.reload(validated(loadConfig({ argv: args, env: process.env, cwd: process.cwd() }).config));
    return await serveUntilSignal(config.logLevel, (log) => startServer(config, log), reload);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`php-wasm-server: ${error.message}\n`);
      return 2;
    }
    if (error instanceof SiteInUseError) {
      process.stderr.write(`php-wasm-server: ${error.message}\n`);
      return EX_TEMPFAIL;
    }
    throw error;
  }
}

/**
 * Serves until SIGTERM/SIGINT, then stops accepting, lets requests finish and exits 0. SIGHUP
 * re-reads the configuration (--config file, config/php.ini) and reloads it; a configuration that
 * does not load is logged and the running one stays. The signals are taken from before the start
 * (the port listens while the first worker boots): one that comes meanwhile acts once it is started,
 * instead of Node's default of ending the process mid-start.
 */
async function serveUntilSignal(logLevel: string, start: (log: Logger) => Promise<RunningServer>, reload: (server: RunningServer) => Promise<unknown>): Promise<number> {
  const { createLogger } = await import('./logger.js');
  const log = createLogger(logLevel);
  const stopSignal = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  let hungUpWhileStarting = false;
  const onHangUpWhileStarting = () => { hungUpWhileStarting = true; };
  process.on('SIGHUP', onHangUpWhileStarting);
  const server = await start(log);
  process.off('SIGHUP', onHangUpWhileStarting);
  (await import('./malloc-tunables.js')).reportMallocTunable(log);
  let reloading: Promise<void> | undefined;
  let again = false;
  const onHangUp = () => {
    if (reloading) {
      again = true; // one more pass once this one ends, so the last change is the one that counts
      return;
    }
    log.info({ signal: 'SIGHUP' }, 'reloading the configuration');
    // Loading can throw at once (a file that does not parse): inside the promise, it is refused like the rest.
    reloading = Promise.resolve().then(() => reload(server)).then(
      () => undefined,
      (error) => log.error({ err: error, reason: error instanceof ConfigError ? error.message : undefined }, 'reload refused; the running configuration stays'),
    ).finally(() => {
      reloading = undefined;
      if (again) {
        again = false;
        onHangUp();
      }
    });
  };
  process.on('SIGHUP', onHangUp);
  if (hungUpWhileStarting) onHangUp();
  const signal = await stopSignal;
  process.off('SIGHUP', onHangUp);
  log.info({ signal }, 'shutting down');
  return server.close().then(() => 0, (error) => {
    log.error({ err: error }, 'unclean shutdown');
    return 1;
  });
}

/** A loaded configuration that passed the checks that need the filesystem. */
function validated<T extends ServerConfig>(config: T): T {
  requireDirectory(config.docroot, 'docroot');
  validateSettings(config);
  return config;
}

function printHelp(options: readonly OptionSpec[], command = ''): number {
  const lines = [
    `${SERVER_SOFTWARE}: PHP (WebAssembly) application server`,
    '',
    `usage: php-wasm-server ${command}[options]`,
    '',
    ...options.map((o) => `  --${o.flag.padEnd(18)} ${o.env.padEnd(36)} ${o.describe} (default: ${plainText(o.docs.default)})`),
    '',
    'Precedence: flags > environment > --config file > preset (wordpress) > config/defaults.json.',
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`php-wasm-server: ${(error as Error)?.stack ?? error}\n`);
    process.exit(1);
  },
);
