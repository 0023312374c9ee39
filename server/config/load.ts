import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { coerce, ConfigError } from './coerce.js';
import { OPTIONS, defaultWorkerCount } from './options.js';
import { hasRequired, type OptionSpec } from './schema.js';
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
  const env = readEnv(request.env, options, request.cwd);
  const fileLayers = [jsonLayer(join(projectRoot, 'config', 'defaults.json'), options)];
  if (request.presetFile) fileLayers.push(jsonLayer(request.presetFile, options));
  const configFrom = flags.values.config !== undefined ? flags : env;
  const configPath = configFrom.values.config;
  if (configPath !== undefined) {
    // Name the flag or variable that pointed at the file, so a bad path is traceable.
    const path = coerce(byKey(options, 'config', 'config'), configPath, configFrom.source('config'), request.cwd) as string;
    fileLayers.push(jsonLayer(path, options, configFrom.source('config')));
  }
  const layers: Layer[] = [...fileLayers, env, { ...flags, baseDir: request.cwd }];
  const config: Record<string, unknown> = {};
  for (const layer of layers) {
    for (const [key, raw] of Object.entries(layer.values)) {
      if (raw === null) continue; // null in a file means "keep the computed default"
      const option = byKey(options, key, layer.source(key));
      const value = coerce(option, raw, layer.source(key), layer.baseDir);
      // A higher layer adds to a merging setting instead of silently dropping what a preset set
      // (e.g. `wordpress --ini display_errors=On` must keep the preset's max_input_vars and deny list).
      config[key] = option.merge && config[key] !== undefined ? mergeValues(config[key], value) : value;
    }
  }
  config.workers ??= defaultWorkerCount();
  // No sessionDir: the server makes a private one of its own (session-dir.ts).
  // Every value was coerced by its spec above; what is left to prove is that none is missing.
  if (!hasRequired<T>(config, options)) {
    const missing = options.filter((o) => !o.optional && config[o.key] === undefined).map((o) => o.key);
    throw new ConfigError(missing[0], 'must be set (config/defaults.json or a preset gives every default)', undefined, 'settings');
  }
  return { config, positionals: flags.positionals, help: flags.help };
}

function byKey(options: readonly OptionSpec[], key: string, source: string): OptionSpec {
  const option = options.find((o) => o.key === key);
  if (!option) throw new ConfigError(key, `is not a setting (known: ${options.map((o) => o.key).join(', ')})`, key, source);
  return option;
}

function mergeValues(lower: unknown, higher: unknown): unknown {
  if (Array.isArray(lower) && Array.isArray(higher)) return [...new Set([...lower, ...higher])];
  return { ...(lower as Record<string, unknown>), ...(higher as Record<string, unknown>) };
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
    // parseArgs messages can span lines ("argument is ambiguous.\nDid you forget…"): keep the first one.
    const reason = (error as Error).message.split('\n')[0];
    throw new ConfigError('arguments', 'see --help for the flags', argv.join(' '), `command line: ${reason}`);
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

function readEnv(env: Record<string, string | undefined>, options: readonly OptionSpec[], cwd: string): Layer {
  const values: Record<string, unknown> = {};
  for (const option of options) {
    const value = env[option.env];
    if (value !== undefined && value !== '') values[option.key] = value;
  }
  // Relative paths in variables resolve like flags: against the caller's cwd, not this process's.
  return { values, source: (key) => options.find((o) => o.key === key)!.env, baseDir: cwd };
}

function jsonLayer(path: string, options: readonly OptionSpec[], namedBy: string = path): Layer {
  let values: unknown;
  try {
    values = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0];
    throw new ConfigError('config', `must name a readable JSON file (${reason})`, path, namedBy);
  }
  if (!values || typeof values !== 'object' || Array.isArray(values)) {
    throw new ConfigError('config', 'must hold a JSON object', path, namedBy);
  }
  const object = values as Record<string, unknown>;
  delete object.$comment;
  // An unknown key names the file it is in, not just "config file".
  for (const key of Object.keys(object)) byKey(options, key, path);
  return { values: object, source: () => path, baseDir: dirname(path) };
}
