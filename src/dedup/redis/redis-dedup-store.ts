import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { DedupDecision } from '../../aggregate/dedup-index.js';
import { assertValidClaims } from '../dedup-claim-validation.js';
import { DedupStateLostError, DedupUnavailableError } from '../dedup-errors.js';
import type { ClaimKind, DedupClaim, DedupStore } from '../dedup-store.js';
import { CLAIM_SCRIPT, STATE_LOST_CODE, decodeClaimReply } from './claim-script.js';
import { checkRedisServer } from './redis-server-checks.js';

export interface RedisDedupStoreOptions {
  readonly host: string;
  readonly port: number;
  readonly db?: number;
  readonly username?: string;
  readonly password?: string;
  /** Start of every key (`<prefix>:instance`, `<prefix>:<i|c>:<ad>:<imp>`); default `adtally:dedup`. */
  readonly prefix?: string;
  /** How long one command may go unanswered before it rejects (a hung or unreachable Redis); default 2000. */
  readonly commandTimeoutMs?: number;
  /** How long `open` waits for the first connection; default 3000. */
  readonly connectTimeoutMs?: number;
  /** The longest wait between two reconnection attempts (the delay doubles from 50 ms up to it); default 2000. */
  readonly maxReconnectDelayMs?: number;
  /** Claims per script call: a larger batch is split into calls run one after another, in order; default 1000. */
  readonly claimsPerCall?: number;
}

export const DEFAULT_DEDUP_PREFIX = 'adtally:dedup';

/**
 * The dedup store on Redis (`--dedup redis://host:port`), shared by every
 * worker of the partitioned log. Entry `<prefix>:<i|c>:<ad>:<imp>` holds the
 * position `<partition>:<offset>` of the first sighting and expires at the
 * claim's expiresAt (PXAT); the rules are the script's (claim-script.ts), and
 * docs/DEDUP-REDIS.md gives the layout, the measured memory per key and the
 * data-loss window.
 *
 * Atomicity is per script call, `claimsPerCall` claims: a larger batch takes
 * several calls, sent one after another on this connection, so the batch is
 * still decided in order, but another worker's call may run between two of
 * them. That is safe because the caller counts only once the whole `claim`
 * resolved, and a retried batch is decided again alike: the entries the
 * first attempt wrote hold the claims' own positions, which answer `first`
 * again, and every other claim's answer is unchanged.
 *
 * Faults: when Redis is down or slow, `claim` and `check` reject within
 * `commandTimeoutMs` (there is no offline queue holding commands until it
 * returns) with a DedupUnavailableError, while the client reconnects with
 * backoff by itself. When the instance sentinel written at open is missing or
 * different (Redis lost its data), they reject with DedupStateLostError until
 * `acknowledgeLoss()`.
 */
export class RedisDedupStore implements DedupStore {
  readonly #client: Redis;
  readonly #where: string;
  readonly #sentinelKey: string;
  readonly #keyStart: Readonly<Record<ClaimKind, string>>;
  readonly #claimsPerCall: number;
  readonly #commandTimeoutMs: number;
  #sha: string;
  #instanceId: string;
  #lastError: Error | undefined;
  #createdInstance: boolean;

  private constructor(
    client: Redis,
    where: string,
    prefix: string,
    limits: { claimsPerCall: number; commandTimeoutMs: number },
    sha: string,
  ) {
    this.#client = client;
    this.#where = where;
    this.#sentinelKey = `${prefix}:instance`;
    this.#keyStart = { impression: `${prefix}:i:`, click: `${prefix}:c:`, forward: `${prefix}:f:` };
    this.#claimsPerCall = limits.claimsPerCall;
    this.#commandTimeoutMs = limits.commandTimeoutMs;
    this.#sha = sha;
    this.#instanceId = '';
    this.#createdInstance = false;
  }

  /**
   * Connects, checks the server (Redis 7.0 or later; no eviction of keys),
   * loads the script and adopts the instance sentinel, creating it when
   * missing (`createdInstance`). Rejects with DedupUnavailableError when Redis
   * cannot be reached within `connectTimeoutMs`, with a plain Error when the
   * server is unfit.
   */
  static async open(options: RedisDedupStoreOptions): Promise<RedisDedupStore> {
    const where = `${options.host}:${options.port}${options.db ? `/${options.db}` : ''}`;
    const claimsPerCall = options.claimsPerCall ?? 1000;
    if (!Number.isSafeInteger(claimsPerCall) || claimsPerCall < 1) {
      throw new RangeError(`claimsPerCall must be a positive integer, not ${claimsPerCall}`);
    }
    const maxDelay = options.maxReconnectDelayMs ?? 2000;
    const commandTimeoutMs = options.commandTimeoutMs ?? 2000;
    const client = new Redis({
      host: options.host,
      port: options.port,
      db: options.db ?? 0,
      username: options.username,
      password: options.password,
      lazyConnect: true,
      connectTimeout: options.connectTimeoutMs ?? 3000,
      commandTimeout: commandTimeoutMs,
      // Fail fast while disconnected: a command waiting for Redis to return would hold the
      // worker's batch for an unbounded time; the worker retries with its own backoff.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt - 1, 10), maxDelay),
    });
    let lastError: Error | undefined;
    let store: RedisDedupStore | undefined;
    // Without a listener ioredis prints every connection error; the latest is kept for messages.
    client.on('error', (error: Error) => {
      lastError = error;
      if (store !== undefined) store.#lastError = error;
    });
    client.on('ready', () => {
      if (store !== undefined) store.#lastError = undefined;
    });
    try {
      await client.connect();
    } catch (error) {
      client.disconnect();
      throw new DedupUnavailableError(
        `cannot connect to the Redis dedup store at ${where}: ${reasonOf(lastError ?? error)}`,
        {
          cause: error,
        },
      );
    }
    try {
      await checkRedisServer(client, where);
      const sha = (await client.script('LOAD', CLAIM_SCRIPT)) as string;
      store = new RedisDedupStore(
        client,
        where,
        options.prefix ?? DEFAULT_DEDUP_PREFIX,
        { claimsPerCall, commandTimeoutMs },
        sha,
      );
      store.#createdInstance = await store.#adoptSentinel();
      return store;
    } catch (error) {
      client.disconnect();
      throw error instanceof DedupUnavailableError || !isConnectionFault(error)
        ? error
        : new DedupUnavailableError(
            `the Redis dedup store at ${where} failed while opening: ${reasonOf(error)}`,
            {
              cause: error,
            },
          );
    }
  }

  /** The random id of the sentinel this store checks on every call. */
  get instanceId(): string {
    return this.#instanceId;
  }

  /**
   * True when `open` found no sentinel and wrote it: a Redis never used with
   * this prefix, or one that lost its data before this process started. Only
   * the caller can tell the two apart (committed checkpoints in the serving
   * store mean the latter).
   */
  get createdInstance(): boolean {
    return this.#createdInstance;
  }

  async claim(claims: readonly DedupClaim[]): Promise<DedupDecision[]> {
    assertValidClaims(claims);
    const decisions = new Array<DedupDecision>(claims.length);
    for (let start = 0; start < claims.length; start += this.#claimsPerCall) {
      const end = Math.min(claims.length, start + this.#claimsPerCall);
      const reply = await this.#runScript(this.#scriptArgs(claims, start, end));
      decodeClaimReply(reply, end - start, decisions, start);
    }
    return decisions;
  }

  /** Resolves when Redis answers and the sentinel is this store's; else rejects with why. */
  async check(): Promise<void> {
    this.#assertConnected();
    let held: string | null;
    try {
      held = await this.#client.get(this.#sentinelKey);
    } catch (error) {
      throw this.#fault(error);
    }
    if (held !== this.#instanceId) throw this.#lostError(held);
  }

  /**
   * Accepts a loss DedupStateLostError reported: adopts the sentinel another
   * worker re-created after it, or writes a new one, so claims proceed. Every
   * worker acknowledges on its own; they all end on the same sentinel.
   */
  async acknowledgeLoss(): Promise<void> {
    this.#assertConnected();
    try {
      await this.#adoptSentinel();
    } catch (error) {
      throw this.#fault(error);
    }
  }

  async close(): Promise<void> {
    try {
      if (this.#client.status === 'ready') await this.#client.quit();
    } catch {
      // Closing anyway: the connection goes below.
    }
    this.#client.disconnect();
  }

  /** Writes the sentinel when missing, then holds whatever it is; true when this call wrote it. */
  async #adoptSentinel(): Promise<boolean> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const fresh = randomBytes(12).toString('base64url');
      const created = (await this.#client.set(this.#sentinelKey, fresh, 'NX')) === 'OK';
      const held = created ? fresh : await this.#client.get(this.#sentinelKey);
      if (held !== null) {
        this.#instanceId = held;
        return created;
      }
    }
    throw new DedupUnavailableError(`the sentinel ${this.#sentinelKey} at ${this.#where} keeps disappearing`);
  }

  #scriptArgs(claims: readonly DedupClaim[], start: number, end: number): (string | number)[] {
    const n = end - start;
    const args = new Array<string | number>(3 + 3 * n);
    args[0] = this.#sha;
    args[1] = n + 1;
    args[2] = this.#sentinelKey;
    args[3 + n] = this.#instanceId;
    for (let i = 0; i < n; i++) {
      const c = claims[start + i] as DedupClaim;
      args[3 + i] = this.#keyStart[c.kind] + c.ad + ':' + c.imp;
      args[4 + n + 2 * i] = c.partition + ':' + c.offset;
      args[5 + n + 2 * i] = c.expiresAt;
    }
    return args;
  }

  async #runScript(args: (string | number)[]): Promise<unknown> {
    this.#assertConnected();
    try {
      return await this.#client.call('EVALSHA', args);
    } catch (error) {
      if (!messageOf(error).startsWith('NOSCRIPT')) throw this.#fault(error);
    }
    // Redis restarted or its script cache was flushed: load the script again, retry once.
    try {
      this.#sha = (await this.#client.script('LOAD', CLAIM_SCRIPT)) as string;
      args[0] = this.#sha;
      return await this.#client.call('EVALSHA', args);
    } catch (error) {
      throw this.#fault(error);
    }
  }

  #assertConnected(): void {
    const status = this.#client.status;
    if (status === 'ready') return;
    const last = this.#lastError === undefined ? '' : `; last error: ${reasonOf(this.#lastError)}`;
    throw new DedupUnavailableError(
      `the Redis dedup store at ${this.#where} is not connected (${status}${last})`,
    );
  }

  #fault(error: unknown): Error {
    const message = messageOf(error);
    if (message.startsWith(STATE_LOST_CODE)) return this.#lostError(undefined, message);
    const what =
      error instanceof Error && error.name === 'MaxRetriesPerRequestError'
        ? 'the connection closed before Redis answered'
        : message === 'Command timed out'
          ? `no answer within ${this.#commandTimeoutMs} ms (command timed out)`
          : message.startsWith("Stream isn't writeable")
            ? 'not connected'
            : message;
    const last = this.#lastError === undefined ? '' : `; last connection error: ${reasonOf(this.#lastError)}`;
    return new DedupUnavailableError(`the Redis dedup store at ${this.#where} failed: ${what}${last}`, {
      cause: error,
    });
  }

  #lostError(held: string | null | undefined, detail?: string): DedupStateLostError {
    const what =
      detail?.slice(STATE_LOST_CODE.length + 1) ??
      `the instance sentinel ${this.#sentinelKey} ${held === null ? 'is missing' : 'was re-created'}`;
    return new DedupStateLostError(
      `the Redis dedup store at ${this.#where} lost its state since it was opened (${what}): ` +
        'impressions seen before may be counted again; acknowledgeLoss() resumes',
    );
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function reasonOf(error: unknown): string {
  const message = messageOf(error);
  return message === '' && error instanceof Error ? error.name : message;
}

/** Errors of the connection rather than of the server's answers (which name what is wrong). */
function isConnectionFault(error: unknown): boolean {
  const message = messageOf(error);
  return /Connection is closed|Command timed out|Stream isn't writeable|ECONN|EPIPE|ETIMEDOUT/.test(message);
}
