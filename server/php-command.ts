/**
 * `php-wasm-server php [options] SCRIPT [ARGS…]`: PHP's command line in the server's sandbox (the
 * same --docroot, --mount, --env, --ini, --allow-network, --php, --smtp), in this process, one
 * instance. stdin, stdout and stderr are the command's own; the exit code is PHP's.
 */
import { existsSync, readFileSync, realpathSync, statSync, writeSync } from 'node:fs';
import { basename, isAbsolute, relative, resolve, sep } from 'node:path';
import { pino } from 'pino';
import { ConfigError } from './config/coerce.js';
import { loadConfig } from './config/load.js';
import type { ServerConfig } from './config/types.js';
import { requireDirectory, validateSettings } from './config/validate.js';
import { MailRelay } from './mail/mail-relay.js';
import { smtpTransportSettings } from './mail/smtp-settings.js';
import { GUEST_DOCROOT } from './paths.js';
import { buildPhpIni, buildPrepend, GUEST_PREPEND, memoryCeilingBytes } from './php-ini.js';
import { runtimeOf } from './php-wasm/internals.js';
import { createSandboxedPhp } from './pool/php-instance.js';
import { compilePhpModule } from './pool/wasm-module.js';
import { readOnlyInternals } from './sandbox/read-only-internals.js';
import { readInputFromHost, writeOutputToHost } from './sandbox/host-stdio.js';
import { lockSite } from './site-lock.js';

/** Where a script from outside every mounted folder is placed, read-only (e.g. wp-cli.phar). */
const GUEST_JOB_DIR = '/internal/job';

/** Host file descriptors PHP's standard streams are (0, 1 and 2 for the command). */
export interface CommandFds {
  stdin: number;
  stdout: number;
  stderr: number;
}

/**
 * Options end at the first word that is not one (or after `--`): everything from SCRIPT on is
 * PHP's, `--path=/docroot` included. Every option takes a value (`--docroot DIR` or `--docroot=DIR`).
 */
export function splitPhpCommandLine(argv: readonly string[]): { options: string[]; script?: string; args: string[] } {
  const options: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (word === '--') return { options, script: argv[i + 1], args: argv.slice(i + 2) };
    if (!word.startsWith('-') || word === '-') return { options, script: word, args: argv.slice(i + 1) };
    options.push(word);
    const takesValue = word.startsWith('--') && !word.includes('=') && word !== '--help';
    if (takesValue && i + 1 < argv.length) options.push(argv[++i]);
  }
  return { options, args: [] };
}

export interface ScriptLocation {
  /** The path PHP runs. */
  guestPath: string;
  /** A host file outside every mounted folder, copied into the instance at guestPath. */
  copyFrom?: string;
}

/**
 * SCRIPT as the user means it: a host file (relative to the current folder) inside the docroot or a
 * mount runs at its path inside PHP; one elsewhere (wp-cli.phar beside the site) is copied in
 * read-only, alone; a path that exists only inside PHP (/docroot/…) is used as written.
 */
export function locateScript(script: string, cwd: string, config: Pick<ServerConfig, 'docroot' | 'mounts'>): ScriptLocation {
  const host = resolve(cwd, script);
  if (existsSync(host) && statSync(host).isFile()) {
    const real = realpathSync(host);
    const roots = [{ host: config.docroot, guest: GUEST_DOCROOT }, ...config.mounts.map((m) => ({ host: m.host, guest: m.guest }))];
    for (const root of roots) {
      const inside = relative(realpathSync(root.host), real);
      if (inside && !inside.startsWith('..') && !isAbsolute(inside)) return { guestPath: `${root.guest}/${inside.split(sep).join('/')}` };
    }
    return { guestPath: `${GUEST_JOB_DIR}/${basename(real)}`, copyFrom: real };
  }
  if (script.startsWith('/')) return { guestPath: script };
  throw new ConfigError('script', 'must be a file (a host path, or a path inside PHP such as /docroot/…)', script, 'command line');
}

export async function runPhpCommand(argv: string[], env: Record<string, string | undefined>, cwd: string, fds: CommandFds = { stdin: 0, stdout: 1, stderr: 2 }): Promise<number> {
  const { options, script, args } = splitPhpCommandLine(argv);
  const { config, help } = loadConfig({ argv: options, env, cwd });
  if (help || script === undefined) {
    writeSync(fds.stderr, 'usage: php-wasm-server php [--docroot DIR] [--mount HOST:GUEST[:ro]] [--env NAME=VALUE] [--ini KEY=VALUE] [--allow-network LIST] [--php V] SCRIPT [ARGS…]\n');
    return help ? 0 : 2;
  }
  requireDirectory(config.docroot, 'docroot');
  validateSettings(config, env);
  const location = locateScript(script, cwd, config);
  const log = pino({ level: 'warn', base: undefined }, pino.destination(2));
  const lock = lockSite(config.docroot, 'job');
  const mail = new MailRelay({ smtp: config.smtp === undefined ? undefined : smtpTransportSettings(config.smtp, config.smtpRequireTls, env), maxPerHour: config.smtpMaxPerHour, log });
  try {
    const memoryCeiling = memoryCeilingBytes(config);
    const { php, ceiling } = await createSandboxedPhp({
      processId: 1,
      phpVersion: config.php,
      wasmModule: await compilePhpModule(config.php),
      docroot: config.docroot,
      mounts: config.mounts,
      env: config.env,
      phpIni: buildPhpIni(config),
      files: { [GUEST_PREPEND]: buildPrepend(config) },
      allowNetwork: config.allowNetwork,
      connectTo: config.connectTo,
      memoryCeiling,
    }, { deliverMail: (mailArgs, message) => mail.deliver(mailArgs, Buffer.from(message), 0) });
    if (location.copyFrom) {
      php.mkdir(GUEST_JOB_DIR);
      php.writeFile(location.guestPath, readFileSync(location.copyFrom));
    }
    const runtime = runtimeOf(php);
    writeOutputToHost(runtime, fds);
    readInputFromHost(runtime, fds.stdin);
    readOnlyInternals(runtime);
    if (memoryCeiling !== null) ceiling.set(runtime.HEAPU8.byteLength + memoryCeiling);
    const response = await php.cli(['php', location.guestPath, ...args]);
    // Output went to the host as written (writeOutputToHost); php.wasm's own streams stay empty.
    await Promise.all([response.stdoutText, response.stderrText]);
    return await response.exitCode;
  } finally {
    mail.close();
    lock.release();
  }
}
