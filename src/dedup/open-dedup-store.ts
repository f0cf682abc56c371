import { ConfigError } from '../config/settings.js';
import type { DedupStore } from './dedup-store.js';
import { MemoryDedupStore, type MemoryDedupStoreOptions } from './memory-dedup-store.js';
import {
  DEFAULT_DEDUP_PREFIX,
  RedisDedupStore,
  type RedisDedupStoreOptions,
} from './redis/redis-dedup-store.js';

/** Where a dedup store URL points; one variant per backend. */
export type DedupStoreLocation =
  | { readonly backend: 'memory' }
  | {
      readonly backend: 'redis';
      readonly host: string;
      readonly port: number;
      readonly db: number;
      readonly prefix: string;
      readonly username?: string;
      readonly password?: string;
    };

/** Settings that are not part of the URL: timeouts, batch split, the memory store's clock. */
export type OpenDedupStoreOptions = MemoryDedupStoreOptions &
  Pick<
    RedisDedupStoreOptions,
    'commandTimeoutMs' | 'connectTimeoutMs' | 'maxReconnectDelayMs' | 'claimsPerCall'
  >;

const ACCEPTED = 'expected embedded, memory: or redis://host[:port][/db][?prefix=...]';
const PREFIX = /^[A-Za-z0-9_.:-]+$/;

/**
 * Parses a dedup store URL (SPEC 5 `--dedup`):
 * - `embedded` or `memory:`: the in-process MemoryDedupStore;
 * - `redis://[user:password@]host[:port][/db][?prefix=p]`: port 6379 and db 0
 *   by default; `prefix` starts every key (default `adtally:dedup`), so
 *   several deployments or tests can share one Redis.
 * Throws ConfigError naming what is wrong.
 */
export function parseDedupStoreUrl(url: string): DedupStoreLocation {
  if (url === 'embedded' || url === 'embedded:' || url === 'memory' || url === 'memory:')
    return { backend: 'memory' };
  if (!url.startsWith('redis://')) throw new ConfigError(`unsupported dedup store URL "${url}": ${ACCEPTED}`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`malformed dedup store URL "${url}": ${ACCEPTED}`);
  }
  const bad = (why: string): ConfigError => new ConfigError(`invalid dedup store URL "${url}": ${why}`);
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw bad('the host is missing');
  const port = parsed.port === '' ? 6379 : Number(parsed.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw bad(`port ${parsed.port} is not in 1..65535`);
  const path = parsed.pathname.replace(/^\//, '');
  if (!/^\d*$/.test(path) || path.length > 5)
    throw bad(`the path "/${path}" is not a database number (/0, /1, ...)`);
  const db = path === '' ? 0 : Number(path);
  if (parsed.hash !== '') throw bad('a #fragment means nothing here');
  let prefix = DEFAULT_DEDUP_PREFIX;
  for (const [name, value] of parsed.searchParams) {
    if (name !== 'prefix') throw bad(`unknown parameter "${name}" (only prefix is accepted)`);
    if (!PREFIX.test(value) || value.endsWith(':')) {
      throw bad(`prefix "${value}" must be letters, digits, _ . : - and not end with ":"`);
    }
    prefix = value;
  }
  const location: DedupStoreLocation = { backend: 'redis', host, port, db, prefix };
  const username = decodeURIComponent(parsed.username);
  const password = decodeURIComponent(parsed.password);
  return {
    ...location,
    ...(username === '' ? {} : { username }),
    ...(password === '' ? {} : { password }),
  };
}

/**
 * A dedup store as opened here: the port, and the way out of a
 * DedupStateLostError (a no-op for the memory store, which loses its state
 * only with its process).
 */
export interface OpenedDedupStore extends DedupStore {
  acknowledgeLoss(): Promise<void>;
}

/**
 * Opens the dedup store a URL names. The Redis store rejects with
 * DedupUnavailableError when Redis cannot be reached, as its claims do.
 */
export async function openDedupStore(
  url: string,
  options: OpenDedupStoreOptions = {},
): Promise<OpenedDedupStore> {
  const location = parseDedupStoreUrl(url);
  if (location.backend === 'memory') return new MemoryDedupStore(options);
  return RedisDedupStore.open({ ...location, ...options });
}
