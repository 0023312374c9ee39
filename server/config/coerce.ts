import { isAbsolute, posix, resolve } from 'node:path';
import type { Mount, OptionSpec } from './schema.js';
import { parseSize } from './size.js';

/** A bad setting: one line naming the key, what is allowed and where the value came from. */
export class ConfigError extends Error {
  constructor(public readonly key: string, allowed: string, got: unknown, source: string) {
    super(`invalid ${key} (from ${source}): ${allowed}; got ${JSON.stringify(got)}`);
  }
}

/** Turns one raw value into its typed form, or throws ConfigError. `baseDir` resolves relative paths. */
export function coerce(option: OptionSpec, raw: unknown, source: string, baseDir: string): unknown {
  const fail = (allowed: string): never => { throw new ConfigError(option.key, allowed, raw, source); };
  switch (option.kind) {
    case 'string':
      return typeof raw === 'string' ? raw : fail('must be a string');
    case 'path':
      return typeof raw === 'string' && raw !== '' ? resolve(baseDir, raw) : fail('must be a path');
    case 'int': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : NaN;
      return Number.isInteger(n) && inRange(option, n) ? n : fail(`must be a whole number${rangeText(option)}`);
    }
    case 'seconds': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+(\.\d+)?\s*s?\s*$/.test(raw) ? parseFloat(raw) : NaN;
      return Number.isFinite(n) && inRange(option, n) ? n : fail(`must be a number of seconds${rangeText(option)}`);
    }
    case 'size': {
      const n = typeof raw === 'string' || typeof raw === 'number' ? parseSize(raw) : null;
      return n !== null && inRange(option, n) ? n : fail('must be a size such as 64M, 512K or 1048576');
    }
    case 'bool': {
      if (typeof raw === 'boolean') return raw;
      // String([true]) is 'true': only a scalar may spell a boolean.
      if (typeof raw !== 'string' && typeof raw !== 'number') return fail('must be true or false');
      const s = String(raw).toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(s)) return true;
      if (['0', 'false', 'no', 'off'].includes(s)) return false;
      return fail('must be true or false');
    }
    case 'choice': {
      // A JSON number (8.3) means the version spelled the same; 8.25.toFixed(1) is "8.3" but 8.25 is no version.
      const s = typeof raw === 'number' && Number(raw.toFixed(1)) === raw ? raw.toFixed(1) : raw;
      return typeof s === 'string' && option.choices!.includes(s) ? s : fail(`must be one of ${option.choices!.join(', ')}`);
    }
    case 'list':
      return toList(raw) ?? fail('must be a comma-separated list or an array of strings');
    case 'map':
      return toMap(raw) ?? fail('must be NAME=VALUE pairs or an object of strings');
    case 'mounts':
      return toMounts(raw, baseDir) ?? fail('must be HOST:GUEST[:ro|rw] entries or {host, guest, mode} objects, GUEST absolute and not /');
  }
}

function inRange(option: OptionSpec, n: number): boolean {
  return (option.min === undefined || n >= option.min) && (option.max === undefined || n <= option.max);
}

function rangeText(option: OptionSpec): string {
  if (option.min !== undefined && option.max !== undefined) return ` from ${option.min} to ${option.max}`;
  return option.min !== undefined ? ` of at least ${option.min}` : '';
}

function toStrings(raw: unknown): string[] | null {
  if (typeof raw === 'string') return [raw];
  if (Array.isArray(raw) && raw.every((x) => typeof x === 'string')) return raw;
  return null;
}

function toList(raw: unknown): string[] | null {
  const items = toStrings(raw);
  return items && items.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
}

function toMap(raw: unknown): Record<string, string> | null {
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
    const entries = Object.entries(raw as Record<string, unknown>);
    return entries.every(([k, v]) => validName(k) && ['string', 'number', 'boolean'].includes(typeof v))
      ? Object.fromEntries(entries.map(([k, v]) => [k.trim(), String(v)]))
      : null;
  }
  const items = toStrings(raw);
  if (!items) return null;
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0 || !validName(item.slice(0, eq))) return null;
    out[item.slice(0, eq).trim()] = item.slice(eq + 1);
  }
  return out;
}

/** A variable or ini name: not blank (" =x" would set the variable ""), no '=' (the object form allows one). */
function validName(name: string): boolean {
  return name.trim() !== '' && !name.includes('=');
}

function toMounts(raw: unknown, baseDir: string): Mount[] | null {
  const list: unknown[] = Array.isArray(raw) ? raw : [raw];
  const mounts: Mount[] = [];
  for (const item of list) {
    const mount = typeof item === 'string' ? parseMountString(item, baseDir) : parseMountObject(item, baseDir);
    if (!mount) return null;
    mounts.push(mount);
  }
  return mounts;
}

function parseMountString(s: string, baseDir: string): Mount | null {
  const parts = s.split(':');
  if (parts.length < 2 || parts.length > 3) return null;
  const [host, guest, mode = 'rw'] = parts;
  return parseMountObject({ host, guest, mode }, baseDir);
}

function parseMountObject(o: unknown, baseDir: string): Mount | null {
  if (!o || typeof o !== 'object') return null;
  // Unknown keys are refused: {"readOnly": true} (the Mount type's spelling) would otherwise mount read-write.
  if (Object.keys(o).some((k) => !['host', 'guest', 'mode'].includes(k))) return null;
  const { host, guest, mode = 'rw' } = o as Record<string, unknown>;
  if (typeof host !== 'string' || !host || typeof guest !== 'string' || !isAbsolute(guest)) return null;
  // "/tmp/.." is absolute but mounts over "/": normalise before checking.
  const guestPath = posix.normalize(guest).replace(/\/+$/, '');
  if (guestPath === '') return null;
  if (mode !== 'ro' && mode !== 'rw') return null;
  return { host: resolve(baseDir, host), guest: guestPath, readOnly: mode === 'ro' };
}
