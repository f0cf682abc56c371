import type pg from 'pg';

export interface CatalogWatch {
  close(): Promise<void>;
}

export interface CatalogWatchOptions {
  /** Told of each lost connection and failed reconnection (for logs); the watch keeps trying. */
  readonly onError?: (err: Error) => void;
  /**
   * How often the idle connection is checked with `SELECT 1` (default 5 s):
   * a server gone without closing the socket is found within about this
   * plus the query timeout, not at the next TCP keepalive minutes later.
   */
  readonly heartbeatMs?: number;
  /** First wait before reconnecting (default 100 ms), doubled up to 2 s. */
  readonly retryMs?: number;
}

const MAX_RETRY_MS = 2_000;

/**
 * LISTENs on `channel` over a dedicated client from `connect` and calls
 * `onChange` for each notification. When the connection breaks (a server
 * restart, a terminated backend) it reconnects with backoff, LISTENs again
 * and calls `onChange` once, since notifications may have been missed
 * meanwhile. The first connection must succeed: the returned promise rejects
 * otherwise, so a caller starting against a dead server knows.
 */
export async function watchCatalog(
  connect: () => pg.Client,
  channel: string,
  onChange: () => void,
  options: CatalogWatchOptions = {},
): Promise<CatalogWatch> {
  const heartbeatMs = options.heartbeatMs ?? 5_000;
  const firstRetryMs = options.retryMs ?? 100;
  let closed = false;
  let client: pg.Client | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let retry: NodeJS.Timeout | undefined;
  let retryMs = firstRetryMs;

  const notify = (): void => {
    try {
      onChange();
    } catch (err) {
      options.onError?.(err as Error);
    }
  };

  const listen = async (): Promise<void> => {
    const next = connect();
    let lost = false;
    const onLost = (err?: Error): void => {
      if (lost) return;
      lost = true;
      clearInterval(heartbeat);
      next.end().catch(() => undefined);
      if (closed) return;
      options.onError?.(err ?? new Error('catalog watch connection ended'));
      scheduleReconnect();
    };
    next.on('error', onLost);
    next.on('end', () => onLost());
    next.on('notification', (message) => {
      if (message.channel === channel) notify();
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${channel}`);
    } catch (err) {
      lost = true;
      await next.end().catch(() => undefined);
      throw err;
    }
    if (closed) {
      // Closed while this reconnection was under way.
      lost = true;
      await next.end().catch(() => undefined);
      return;
    }
    client = next;
    heartbeat = setInterval(() => {
      next.query('SELECT 1').catch((err: Error) => onLost(err));
    }, heartbeatMs);
    heartbeat.unref();
  };

  const scheduleReconnect = (): void => {
    retry = setTimeout(() => {
      retry = undefined;
      if (closed) return;
      listen().then(
        () => {
          retryMs = firstRetryMs;
          if (!closed) notify();
        },
        (err: Error) => {
          options.onError?.(err);
          retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
          scheduleReconnect();
        },
      );
    }, retryMs);
  };

  await listen();
  return {
    async close(): Promise<void> {
      closed = true;
      clearTimeout(retry);
      clearInterval(heartbeat);
      await client?.end().catch(() => undefined);
    },
  };
}
