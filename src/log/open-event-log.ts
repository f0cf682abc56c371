import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../config/settings.js';
import type { EventAppender, EventLog, LogFlushObserver, LogReader } from './event-log.js';
import { DurableEndCell } from './file/durable-end-cell.js';
import { FileEventAppender } from './file/file-event-appender.js';
import { openFileEventLog, type FileEventLogOptions } from './file/file-event-log.js';
import { FileLogFollower } from './file/file-log-follower.js';
import { openKafkaEventAppender, type ProduceObserver } from './kafka/kafka-event-appender.js';
import { parseKafkaLogUrl, type KafkaLogLocation } from './kafka/kafka-url.js';

/** The event log URL names a backend this build does not have. */
export class UnsupportedBackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedBackendError';
  }
}

export type OpenEventLogOptions = Omit<FileEventLogOptions, 'io'>;

/** Where a log URL points; one variant per backend. */
export type EventLogLocation = { readonly backend: 'file'; readonly dir: string } | KafkaLogLocation;

/**
 * Parses an event log URL. `file:<dir>` takes a path as written, relative to
 * the working directory (`file:./data/log`, `file:/abs/path`); `file://` is a
 * standard file URL (`file:///abs/path`, percent-decoded).
 * `kafka://host:port[,host:port...]/topic?partitions=N[&spread=S][&hot=R]`
 * names a Kafka topic (see kafka/kafka-url.ts); a malformed one is a ConfigError.
 */
export function parseEventLogUrl(url: string): EventLogLocation {
  if (url.startsWith('kafka:')) return parseKafkaLogUrl(url);
  if (!url.startsWith('file:')) {
    throw new UnsupportedBackendError(
      `unsupported event log URL "${url}": expected file:<dir> or kafka://host:port/topic`,
    );
  }
  let path: string;
  if (url.startsWith('file://')) {
    try {
      path = fileURLToPath(url);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`invalid event log URL "${url}": ${reason} (use file:///abs/path or file:./relative)`);
    }
  } else {
    path = url.slice('file:'.length);
  }
  if (path === '') throw new Error(`invalid event log URL "${url}": the directory is empty`);
  return { backend: 'file', dir: resolve(path) };
}

/** Opens the file event log a URL names, with its reading side (what `serve` runs on). */
export async function openEventLog(url: string, options: OpenEventLogOptions = {}): Promise<EventLog> {
  return openFileEventLog(fileLocation(url).dir, options);
}

export interface OpenEventAppenderOptions extends OpenEventLogOptions {
  /** Kafka: called once per produce request (records, bytes, seconds). */
  readonly produceObserver?: ProduceObserver;
  /** Kafka client id; default adtally-collector. */
  readonly clientId?: string;
}

/**
 * Opens the appending side of the log a URL names, what a collector needs:
 * the file log as one partition (partition 0, its offsets), or a Kafka topic
 * (created with the URL's partition count when missing; a topic with another
 * count is a ConfigError).
 */
export async function openEventAppender(
  url: string,
  options: OpenEventAppenderOptions = {},
): Promise<EventAppender> {
  const location = parseEventLogUrl(url);
  if (location.backend === 'kafka') {
    return openKafkaEventAppender({
      bootstrap: location.bootstrap,
      topic: location.topic,
      partitions: location.partitions,
      ...(location.spread !== undefined ? { hotSpread: location.spread } : {}),
      ...(location.hotThreshold !== undefined
        ? { hotAds: { thresholdPerSecond: location.hotThreshold } }
        : {}),
      ...(options.clientId !== undefined ? { clientId: options.clientId } : {}),
      ...(options.produceObserver !== undefined ? { observer: options.produceObserver } : {}),
    });
  }
  const { produceObserver: _produce, clientId: _client, ...fileOptions } = options;
  return new FileEventAppender(await openFileEventLog(location.dir, fileOptions));
}

/** The file location a URL names; a Kafka URL here is a ConfigError (the command needs a local log). */
function fileLocation(url: string): { readonly backend: 'file'; readonly dir: string } {
  const location = parseEventLogUrl(url);
  if (location.backend !== 'file') {
    throw new ConfigError(
      `event log URL "${url}": this command needs a file: log (kafka:// is for collector and worker)`,
    );
  }
  return location;
}

/**
 * What another thread of this process needs to read the log as it grows: a
 * plain value, so it can be posted to a worker thread. For the file log, its
 * directory and the shared cell holding its durable end.
 */
export type LogFollowSpec = {
  readonly backend: 'file';
  readonly dir: string;
  readonly durableEnd: SharedArrayBuffer;
};

/** A log reader that follows a log another thread writes; `close` releases its files. */
export interface LogFollower extends LogReader {
  close(): Promise<void>;
}

/**
 * Opens the log a URL names for appending, with what another thread needs to
 * follow it (`openLogFollower`): `adtally serve` appends on its request
 * thread and aggregates on its own thread.
 */
export async function openFollowedEventLog(
  url: string,
  options: OpenEventLogOptions = {},
): Promise<{ log: EventLog; follow: LogFollowSpec }> {
  const location = fileLocation(url);
  const cell = new DurableEndCell();
  const inner = options.observer;
  let publish = (): void => undefined;
  const observer: LogFlushObserver = {
    onFlush(flush) {
      publish();
      inner?.onFlush(flush);
    },
  };
  // The follower reads the segment files: copies of the last flushes for tail reads would be
  // made on the appending thread for no reader.
  const log = await openFileEventLog(location.dir, { ...options, observer, recentBytes: 0 });
  publish = () => cell.publish(log.durableEnd(), log.activeSegmentBase());
  publish();
  return { log, follow: { backend: 'file', dir: location.dir, durableEnd: cell.buffer } };
}

/** Opens a reader of the log `spec` describes, on the thread that calls it. */
export function openLogFollower(spec: LogFollowSpec): Promise<LogFollower> {
  return FileLogFollower.open(spec.dir, new DurableEndCell(spec.durableEnd));
}
