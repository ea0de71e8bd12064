import { readFileSync } from 'node:fs';
import { DfsError } from '../common/errors.js';

/**
 * One process's settings come from, in order of precedence: command-line
 * flags, environment variables (DFS_ + the setting in upper snake case, e.g.
 * DFS_DATA_DIR), a JSON config file (--config), then defaults. Only main
 * reads the environment; it passes it in here.
 */
export type RawSettings = Record<string, string | number | boolean | string[] | undefined>;

export function loadConfigFile(path: string | undefined): RawSettings {
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
  return parsed as RawSettings;
}

export function envName(key: string): string {
  return 'DFS_' + key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** Merges the sources for the given keys; unknown keys in the file are an error. */
export function mergeSettings(
  keys: readonly string[],
  flags: RawSettings,
  env: NodeJS.ProcessEnv,
  file: RawSettings,
): RawSettings {
  for (const key of Object.keys(file)) {
    if (!keys.includes(key)) throw new DfsError('INVALID_ARGUMENT', `unknown setting ${JSON.stringify(key)} in config file (known: ${keys.join(', ')})`);
  }
  const out: RawSettings = {};
  for (const key of keys) {
    const fromEnv = env[envName(key)];
    out[key] = flags[key] ?? fromEnv ?? file[key];
  }
  return out;
}

export function asNumber(value: RawSettings[string], key: string, parse: (s: string) => number = Number): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'number' ? value : parse(String(value));
  if (!Number.isFinite(n)) throw new DfsError('INVALID_ARGUMENT', `${key} must be a number, got ${JSON.stringify(value)}`);
  return n;
}

export function asBoolean(value: RawSettings[string], key: string): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  const text = String(value).toLowerCase();
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0' || text === '') return false;
  throw new DfsError('INVALID_ARGUMENT', `${key} must be true or false, got ${JSON.stringify(value)}`);
}

export function asString(value: RawSettings[string]): string | undefined {
  return value === undefined ? undefined : String(value);
}

export function asList(value: RawSettings[string]): string[] | undefined {
  if (value === undefined) return undefined;
  const items = Array.isArray(value) ? value : String(value).split(',');
  return items.map((s) => s.trim()).filter((s) => s.length > 0);
}
