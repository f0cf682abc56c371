import type { EventLog, RetentionResult } from './event-log.js';

/** Told about every retention pass that ran, for metrics. */
export interface LogRetentionObserver {
  onRetention(result: RetentionResult): void;
}

export interface LogRetentionOptions {
  /** Consumed data older than this is deleted (`--log-retention`). */
  readonly retentionMs: number;
  /** Over this many bytes, consumed data is deleted whatever its age (`--log-retention-bytes`); none if undefined. */
  readonly retentionBytes: number | undefined;
  /**
   * The lowest committed offset over every consumer of the log (today the
   * aggregation worker; the archiver when it exists). It must be a commit
   * that is durable: what is below it is deleted for good.
   */
  readonly consumedBelow: () => number;
  readonly now?: () => number;
  /** Time between passes; default: a quarter of retentionMs, from 100 ms to 1 minute. */
  readonly intervalMs?: number;
  readonly observer?: LogRetentionObserver;
  /** Where the one-line warnings go (default stderr). */
  readonly warn?: (line: string) => void;
  /** At most one warning of each kind per this many ms (default 10 minutes). */
  readonly warnEveryMs?: number;
}

const MAX_INTERVAL_MS = 60_000;
const MIN_INTERVAL_MS = 100;
const DEFAULT_WARN_EVERY_MS = 10 * 60_000;

/** The default time between passes: often enough that data is rarely kept much past its retention. */
export function defaultRetentionIntervalMs(retentionMs: number): number {
  return Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, Math.floor(retentionMs / 4)));
}

/**
 * Runs `log.applyRetention` now and then every `intervalMs` (the next pass
 * is scheduled when one ends, so passes never overlap) until the returned
 * function is called; that function waits for a pass in flight. A pass that
 * fails is a warning, not a stop: the next one tries again.
 *
 * When the log stays over the byte cap because the rest is not consumed yet
 * (a consumer is behind or stopped), nothing more is deleted, since that
 * would lose acknowledged events; a warning says so, and readiness is left
 * as it is: ingestion goes on while there is disk. Alert on the gauges.
 */
export function startLogRetention(
  log: Pick<EventLog, 'applyRetention'>,
  options: LogRetentionOptions,
): () => Promise<void> {
  const now = options.now ?? Date.now;
  const intervalMs = options.intervalMs ?? defaultRetentionIntervalMs(options.retentionMs);
  const warn = rateLimited(
    options.warn ?? ((line) => console.error(line)),
    options.warnEveryMs ?? DEFAULT_WARN_EVERY_MS,
    now,
  );
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> = Promise.resolve();

  const runPass = async (): Promise<void> => {
    const consumedBelow = options.consumedBelow();
    try {
      const result = await log.applyRetention({
        consumedBelow,
        now: now(),
        maxAgeMs: options.retentionMs,
        maxBytes: options.retentionBytes,
      });
      options.observer?.onRetention(result);
      if (result.overCapBytes > 0) {
        warn(
          'cap',
          `adtally: event log holds ${result.storage.bytes} bytes, ${result.overCapBytes} over its retention cap of ${options.retentionBytes}, ` +
            `and the rest is not consumed yet (lowest committed offset ${consumedBelow}): it is kept, check the consumers`,
        );
      }
    } catch (error) {
      if (stopped) return; // the log closed under a last pass
      warn('failure', `adtally: event log retention pass failed: ${String(error)}`);
    }
  };
  const schedule = (delay: number): void => {
    timer = setTimeout(() => {
      pass = runPass().finally(() => {
        if (!stopped) schedule(intervalMs);
      });
    }, delay);
    timer.unref(); // retention never keeps a process alive
  };
  schedule(0); // a restart after a long stop cleans up at once

  return async () => {
    stopped = true;
    clearTimeout(timer);
    await pass;
  };
}

/** At most one line per `key` per `everyMs`. */
function rateLimited(
  write: (line: string) => void,
  everyMs: number,
  now: () => number,
): (key: string, line: string) => void {
  const last = new Map<string, number>();
  return (key, line) => {
    const at = now();
    const previous = last.get(key);
    if (previous !== undefined && at - previous < everyMs) return;
    last.set(key, at);
    write(line);
  };
}
