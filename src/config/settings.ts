import { isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDurationMs } from '../domain/duration.js';

/** A bad flag, environment variable or value: the CLI prints the message and exits 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly retriable = false;
}

/** One setting: its flag, its environment variable and how to read its text. */
export interface SettingSpec<T> {
  readonly flag: string;
  readonly env: string;
  readonly help: string;
  readonly placeholder: string;
  /** Returns the value, or a reason the text is not acceptable. */
  readonly parse: (raw: string) => T | { error: string };
}

export function isParseError(value: unknown): value is { error: string } {
  return typeof value === 'object' && value !== null && 'error' in value && Object.keys(value).length === 1;
}

export const portSetting = (flag: string, env: string, help: string): SettingSpec<number> => ({
  flag,
  env,
  help,
  placeholder: 'PORT',
  parse: (raw) => {
    if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) return { error: 'expected a port number 0-65535' };
    return Number(raw);
  },
});

export const stringSetting = (
  flag: string,
  env: string,
  help: string,
  placeholder = 'TEXT',
): SettingSpec<string> => ({
  flag,
  env,
  help,
  placeholder,
  parse: (raw) => (raw.length === 0 ? { error: 'must not be empty' } : raw),
});

export const durationSetting = (flag: string, env: string, help: string): SettingSpec<number> => ({
  flag,
  env,
  help,
  placeholder: 'DURATION',
  parse: (raw) => parseDurationMs(raw) ?? { error: 'expected a duration such as 24h, 90s or 500ms' },
});

export const positiveIntSetting = (flag: string, env: string, help: string): SettingSpec<number> => ({
  flag,
  env,
  help,
  placeholder: 'N',
  parse: (raw) => {
    if (!/^[1-9]\d{0,14}$/.test(raw)) return { error: 'expected a positive integer' };
    return Number(raw);
  },
});

/**
 * A backend URL setting. `schemes` lists what this build supports for the role;
 * `file:` paths are resolved against the working directory.
 */
export const backendSetting = (
  flag: string,
  env: string,
  help: string,
  schemes: readonly string[],
): SettingSpec<string> => ({
  flag,
  env,
  help,
  placeholder: 'URL',
  parse: (raw) => {
    const match = /^([a-z][a-z0-9+.-]*):(.*)$/.exec(raw);
    if (match === null) return { error: `"${raw}" is not a URL (expected ${schemes.join(' or ')})` };
    const scheme = `${match[1]}:`;
    if (!schemes.includes(scheme)) {
      return {
        error: `unsupported scheme ${scheme} in "${raw}" (this build supports ${schemes.join(', ')})`,
      };
    }
    return raw;
  },
});

/** Resolves the path of a `file:`-like URL (`file:rel`, `file:/abs`, `file:///abs`). */
export function pathOfUrl(url: string): string {
  const rest = url.slice(url.indexOf(':') + 1);
  const path = rest.startsWith('///') ? rest.slice(2) : rest.startsWith('//') ? rest.slice(2) : rest;
  if (path.length === 0) throw new ConfigError(`"${url}" names no path`);
  return isAbsolute(path) ? path : resolve(path);
}

/** A number in [min, max] (decimals allowed), e.g. a rate or a share. */
export const numberSetting = (
  flag: string,
  env: string,
  help: string,
  min: number,
  max: number,
  placeholder = 'N',
): SettingSpec<number> => ({
  flag,
  env,
  help,
  placeholder,
  parse: (raw) => {
    const value = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : Number.NaN;
    if (!(value >= min && value <= max)) return { error: `expected a number from ${min} to ${max}` };
    return value;
  },
});

export type SettingSpecs = Record<string, SettingSpec<unknown>>;
export type SettingValues<S extends SettingSpecs> = {
  [K in keyof S]: S[K] extends SettingSpec<infer T> ? T | undefined : never;
};

/**
 * Reads a command's flags (and, when `env` is given, each setting's
 * environment variable; flags win). Throws ConfigError with a one-line
 * reason for unknown flags and malformed values. `switches` are boolean flags.
 */
export function readCommandLine<S extends SettingSpecs>(
  argv: readonly string[],
  specs: S,
  options: { switches?: readonly string[]; env?: NodeJS.ProcessEnv } = {},
): { help: boolean; values: SettingValues<S>; switches: ReadonlySet<string> } {
  const parseOptions: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const spec of Object.values(specs)) parseOptions[spec.flag] = { type: 'string' };
  for (const name of options.switches ?? []) parseOptions[name] = { type: 'boolean' };
  let flags: Record<string, string | boolean | undefined>;
  try {
    ({ values: flags } = parseArgs({
      args: [...argv],
      options: parseOptions,
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new ConfigError((err as Error).message.split('\n')[0] ?? 'bad arguments');
  }
  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    const flagValue = flags[spec.flag];
    const raw = typeof flagValue === 'string' ? flagValue : options.env?.[spec.env];
    if (raw === undefined) continue;
    const value = spec.parse(raw);
    if (isParseError(value)) {
      throw new ConfigError(`${typeof flagValue === 'string' ? `--${spec.flag}` : spec.env}: ${value.error}`);
    }
    values[key] = value;
  }
  const switches = new Set((options.switches ?? []).filter((name) => flags[name] === true));
  return { help: flags.help === true, values: values as SettingValues<S>, switches };
}

/** The options block of a command's --help. */
export function helpLines(specs: SettingSpecs, switches: Readonly<Record<string, string>> = {}): string[] {
  const width = 30;
  return [
    ...Object.values(specs).map(
      (s) =>
        `  --${`${s.flag} ${s.placeholder}`.padEnd(width - 2)} ${s.help}${s.env === '' ? '' : ` [${s.env}]`}`,
    ),
    ...Object.entries(switches).map(([flag, help]) => `  ${`--${flag}`.padEnd(width)} ${help}`),
    `  ${'-h, --help'.padEnd(width)} show this help`,
  ];
}
