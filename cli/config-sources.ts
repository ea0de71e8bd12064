import { readFileSync } from 'node:fs';
import { DfsError } from '../common/errors.js';
import { LOG_LEVELS, type LogLevel } from '../common/logger.js';
import { parseSize } from './size.js';

/**
 * One process's settings come from, in order of precedence: command-line
 * flags, environment variables (DFS_ + the setting in upper snake case, e.g.
 * DFS_DATA_DIR), a JSON config file (--config), then defaults. Only main
 * reads the environment; it passes it in here. Every value is checked as it
 * is read, and a bad one is refused with the setting's name and where it
 * came from.
 */
export type FlagValues = Record<string, unknown>;

interface Sourced {
  value: unknown;
  /** "flag --data-dir", "environment variable DFS_DATA_DIR", "config file /etc/dfs.json". */
  origin: string;
}

export function envName(key: string): string {
  return 'DFS_' + kebab(key).replace(/-/g, '_').toUpperCase();
}

function flagName(key: string): string {
  return '--' + kebab(key);
}

function kebab(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/** The settings of one process, merged from its sources, read through typed accessors. */
export class Settings {
  private constructor(private readonly values: ReadonlyMap<string, Sourced>) {}

  /**
   * Merges the sources for `keys`. A key in the file that is not a setting is
   * refused, as is a file that is not a JSON object. Flags are commander's
   * values, keyed by setting name (commander already refuses unknown flags).
   */
  static load(keys: readonly string[], flags: FlagValues, env: NodeJS.ProcessEnv, configPath: string | undefined): Settings {
    const file = readConfigFile(configPath);
    for (const key of Object.keys(file)) {
      if (!keys.includes(key)) {
        throw new DfsError('INVALID_ARGUMENT', `unknown setting ${JSON.stringify(key)} in config file ${configPath} (known: ${keys.join(', ')})`);
      }
    }
    const values = new Map<string, Sourced>();
    for (const key of keys) {
      const fromEnv = env[envName(key)];
      if (flags[key] !== undefined) values.set(key, { value: flags[key], origin: `flag ${flagName(key)}` });
      else if (fromEnv !== undefined) values.set(key, { value: fromEnv, origin: `environment variable ${envName(key)}` });
      else if (file[key] !== undefined) values.set(key, { value: file[key], origin: `config file ${configPath}` });
    }
    return new Settings(values);
  }

  /** Where `key`'s value came from, or undefined for a default. */
  origin(key: string): string | undefined {
    return this.values.get(key)?.origin;
  }

  has(key: string): boolean {
    return this.values.has(key);
  }

  string(key: string): string | undefined {
    const v = this.values.get(key);
    if (v === undefined) return undefined;
    if (typeof v.value !== 'string') this.fail(key, 'must be a string', v);
    return v.value as string;
  }

  /**
   * A whole number: a JSON number, or decimal digits in a flag, variable or
   * string. Its range is the process config's to check (see describe()).
   */
  integer(key: string): number | undefined {
    const v = this.values.get(key);
    if (v === undefined) return undefined;
    let n: number;
    if (typeof v.value === 'number') n = v.value;
    else if (typeof v.value === 'string' && /^\s*-?\d+\s*$/.test(v.value)) n = Number(v.value);
    else return this.fail(key, 'must be a whole number', v);
    if (!Number.isSafeInteger(n)) this.fail(key, 'must be a whole number', v);
    return n;
  }

  /** A finite number, fractions allowed: a JSON number, or a decimal in a flag, variable or string. */
  number(key: string): number | undefined {
    const v = this.values.get(key);
    if (v === undefined) return undefined;
    let n = Number.NaN;
    if (typeof v.value === 'number') n = v.value;
    else if (typeof v.value === 'string' && /^\s*-?(\d+\.?\d*|\.\d+)\s*$/.test(v.value)) n = Number(v.value);
    if (!Number.isFinite(n)) this.fail(key, 'must be a number', v);
    return n;
  }

  /** Bytes: a JSON number, or a size with units ("64MiB", "1G", "4096"). */
  size(key: string): number | undefined {
    const v = this.values.get(key);
    if (v === undefined) return undefined;
    if (typeof v.value === 'number' && Number.isSafeInteger(v.value) && v.value >= 0) return v.value;
    if (typeof v.value !== 'string') return this.fail(key, 'must be a size such as 64MiB, 1G or 4096', v);
    try {
      return parseSize(v.value);
    } catch {
      return this.fail(key, 'must be a size such as 64MiB, 1G or 4096', v);
    }
  }

  /** true/false: a JSON boolean, a bare flag, or true, false, 1 or 0 as text. */
  boolean(key: string): boolean | undefined {
    const v = this.values.get(key);
    if (v === undefined) return undefined;
    if (typeof v.value === 'boolean') return v.value;
    const text = typeof v.value === 'string' ? v.value.trim().toLowerCase() : undefined;
    if (text === 'true' || text === '1') return true;
    if (text === 'false' || text === '0') return false;
    return this.fail(key, 'must be true or false', v);
  }

  /** A list: comma-separated text, or a JSON array of strings. Empty items are dropped. */
  list(key: string): string[] | undefined {
    const v = this.values.get(key);
    if (v === undefined) return undefined;
    let items: unknown[];
    if (typeof v.value === 'string') items = v.value.split(',');
    else if (Array.isArray(v.value)) items = v.value;
    else return this.fail(key, 'must be a comma-separated list or an array of strings', v);
    if (!items.every((item): item is string => typeof item === 'string')) {
      return this.fail(key, 'must be a comma-separated list or an array of strings', v);
    }
    return items.map((s) => s.trim()).filter((s) => s.length > 0);
  }

  oneOf<T extends string>(key: string, allowed: readonly T[]): T | undefined {
    const text = this.string(key);
    if (text === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(text)) this.fail(key, `must be one of ${allowed.join(', ')}`, this.values.get(key)!);
    return text as T;
  }

  logLevel(key = 'logLevel'): LogLevel | undefined {
    return this.oneOf(key, LOG_LEVELS);
  }

  /**
   * For checks made after reading (ranges, settings that must agree):
   * "port from flag --port; httpPort from config file x.json", leaving out
   * defaults; "" when all are defaults.
   */
  describe(keys: readonly string[]): string {
    return keys
      .flatMap((key) => {
        const origin = this.origin(key);
        return origin === undefined ? [] : [`${key} from ${origin}`];
      })
      .join('; ');
  }

  private fail(key: string, problem: string, v: Sourced): never {
    throw new DfsError('INVALID_ARGUMENT', `${key} ${problem}, got ${JSON.stringify(v.value)} (from ${v.origin})`);
  }
}

function readConfigFile(path: string | undefined): Record<string, unknown> {
  if (path === undefined) return {};
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new DfsError('INVALID_ARGUMENT', `cannot read config file ${path}: ${(err as Error).message}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new DfsError('INVALID_ARGUMENT', `config file ${path} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new DfsError('INVALID_ARGUMENT', `config file ${path} must hold a JSON object`);
  }
  return parsed as Record<string, unknown>;
}
