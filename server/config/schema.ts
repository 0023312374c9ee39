/**
 * The one description of every setting. Each entry gives the TypeScript type (through its kind),
 * the flag and environment variable, how raw strings are read (coerce.ts), the limits checked,
 * the --help line and the README row. `ConfigOf` derives the config type from it, so a new
 * option cannot exist in one place and be missing in another.
 */
export interface Mount {
  /** Absolute host folder. */
  host: string;
  /** Absolute path inside PHP. */
  guest: string;
  readOnly: boolean;
}

/** What each kind of raw value (a flag or env string, or a JSON value) becomes. */
export interface KindValues {
  string: string;
  path: string;
  int: number;
  seconds: number;
  size: number;
  bool: boolean;
  choice: string;
  list: string[];
  map: Record<string, string>;
  mounts: Mount[];
}

export type OptionKind = keyof KindValues;

/** The README row of an option (the columns the README tables have). */
export interface OptionDocs {
  /** Placeholder after the flag: `--port N`. */
  arg?: string;
  /** Default as the README shows it (markdown). */
  default: string;
  /** README wording; --help shows it without markdown. */
  meaning: string;
  /** Shown as — in the "config key" column (the setting only points at the file). */
  noConfigKey?: boolean;
  /** Several options documented as one row: the first one's key; the others name it here. */
  row?: { flags: string; env: string };
  sameRowAs?: string;
}

/** One setting as written in a schema (the key is the property name). */
export interface OptionDef<K extends OptionKind = OptionKind> {
  kind: K;
  /** Flag name without dashes; default: the key in kebab-case. */
  flag?: string;
  docs: OptionDocs;
  /** --help wording when it differs from the README's (default: docs.meaning without markdown). */
  help?: string;
  min?: number;
  max?: number;
  choices?: readonly string[];
  /** May be given more than once on the command line (`--env A=1 --env B=2`). */
  repeatable?: boolean;
  /** Higher layers add to the value (maps key by key, lists by union) instead of replacing it. */
  merge?: boolean;
  /** No value unless one is set (the loader computes no default). */
  optional?: boolean;
}

export type OptionDefs = Record<string, OptionDef>;

/** The resolved form the loader and --help work with. */
export interface OptionSpec extends Omit<OptionDef, 'flag' | 'help'> {
  key: string;
  flag: string;
  env: string;
  /** The --help line. */
  describe: string;
}

export const ENV_PREFIX = 'PHP_WASM_SERVER_';

/** The type a definition's values have: a choice is the union of its choices. */
export type ValueOf<D> = D extends { kind: 'choice'; choices: readonly (infer C)[] }
  ? C
  : D extends OptionDef<infer K> ? KindValues[K] : never;

type RequiredKeys<S> = { [K in keyof S]: S[K] extends { optional: true } ? never : K }[keyof S];
type OptionalKeys<S> = { [K in keyof S]: S[K] extends { optional: true } ? K : never }[keyof S];

/** The config object a schema describes. */
export type ConfigOf<S> = { [K in RequiredKeys<S>]: ValueOf<S[K]> } & { [K in OptionalKeys<S>]?: ValueOf<S[K]> };

/** Checks a definition table while keeping its literal types (choices, optional). */
export function defineOptions<const S extends OptionDefs>(defs: S): S {
  return defs;
}

/** The resolved specs of a schema, in its order. */
export function optionSpecs(defs: OptionDefs): OptionSpec[] {
  return Object.entries(defs).map(([key, { flag: flagName, help, ...def }]) => {
    const flag = flagName ?? key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    return {
      ...def,
      key,
      flag,
      env: ENV_PREFIX + flag.toUpperCase().replace(/-/g, '_'),
      describe: help ?? plainText(def.docs.meaning),
    };
  });
}

/** Markdown to terminal text: `code` and \| escapes. */
export function plainText(markdown: string): string {
  return markdown.replace(/`/g, '').replace(/\\\|/g, '|');
}

/** True when every setting the specs require is present: the loader's proof that it built a T. */
export function hasRequired<T extends object>(config: object, specs: readonly OptionSpec[]): config is T {
  return specs.every((s) => s.optional || (config as Record<string, unknown>)[s.key] !== undefined);
}
