import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { coerce, ConfigError } from './coerce.js';
import { OPTIONS, defaultWorkerCount, type OptionSpec } from './options.js';
import type { ServerConfig } from './types.js';
import { projectRoot } from '../paths.js';

export interface LoadRequest {
  argv: string[];
  env: Record<string, string | undefined>;
  cwd: string;
  /** Extra options a subcommand adds (e.g. `wordpress --dir`). */
  extraOptions?: readonly OptionSpec[];
  /** A preset file layered over config/defaults.json (e.g. config/wordpress.json). */
  presetFile?: string;
}

export interface Loaded<T> {
  config: T;
  positionals: string[];
  help: boolean;
}

type Layer = { values: Record<string, unknown>; source: (key: string) => string; baseDir: string };

/** Reads settings from defaults < preset < config file < environment < flags, and validates every one. */
export function loadConfig<T extends ServerConfig = ServerConfig>(request: LoadRequest): Loaded<T> {
  const options = [...OPTIONS, ...(request.extraOptions ?? [])];
  const flags = readFlags(request.argv, options);
  const env = readEnv(request.env, options);
  const fileLayers = [jsonLayer(join(projectRoot, 'config', 'defaults.json'), options)];
  if (request.presetFile) fileLayers.push(jsonLayer(request.presetFile, options));
  const configPath = (flags.values.config ?? env.values.config) as string | undefined;
  if (configPath !== undefined) {
    const path = coerce(byKey(options, 'config'), configPath, 'config', request.cwd) as string;
    fileLayers.push(jsonLayer(path, options));
  }
  const layers: Layer[] = [...fileLayers, env, { ...flags, baseDir: request.cwd }];
  const config: Record<string, unknown> = {};
  for (const layer of layers) {
    for (const [key, raw] of Object.entries(layer.values)) {
      if (raw === null) continue; // null in a file means "keep the computed default"
      config[key] = coerce(byKey(options, key), raw, layer.source(key), layer.baseDir);
    }
  }
  config.workers ??= defaultWorkerCount();
  config.sessionDir ??= join(tmpdir(), 'php-wasm-server', 'sessions');
  return { config: config as unknown as T, positionals: flags.positionals, help: flags.help };
}

function byKey(options: readonly OptionSpec[], key: string): OptionSpec {
  const option = options.find((o) => o.key === key);
  if (!option) throw new ConfigError(key, `is not a setting (known: ${options.map((o) => o.key).join(', ')})`, key, 'config file');
  return option;
}

function readFlags(argv: string[], options: readonly OptionSpec[]): Layer & { positionals: string[]; help: boolean } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(options.map((o) => [o.flag, { type: 'string' as const, multiple: o.repeatable ?? false }])),
      },
    });
  } catch (error) {
    throw new ConfigError('arguments', 'see --help for the flags', argv.join(' '), `command line: ${(error as Error).message}`);
  }
  const values: Record<string, unknown> = {};
  for (const option of options) {
    const value = (parsed.values as Record<string, unknown>)[option.flag];
    if (value !== undefined) values[option.key] = value;
  }
  return {
    values,
    source: (key) => `--${options.find((o) => o.key === key)!.flag}`,
    baseDir: '',
    positionals: parsed.positionals,
    help: parsed.values.help === true,
  };
}

function readEnv(env: Record<string, string | undefined>, options: readonly OptionSpec[]): Layer {
  const values: Record<string, unknown> = {};
  for (const option of options) {
    const value = env[option.env];
    if (value !== undefined && value !== '') values[option.key] = value;
  }
  return { values, source: (key) => options.find((o) => o.key === key)!.env, baseDir: process.cwd() };
}

function jsonLayer(path: string, options: readonly OptionSpec[]): Layer {
  let values: unknown;
  try {
    values = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError('config', 'must name a readable JSON file', path, (error as Error).message);
  }
  if (!values || typeof values !== 'object' || Array.isArray(values)) {
    throw new ConfigError('config', 'must hold a JSON object', path, path);
  }
  const object = values as Record<string, unknown>;
  delete object.$comment;
  for (const key of Object.keys(object)) byKey(options, key);
  return { values: object, source: () => path, baseDir: dirname(path) };
}
