import { ProduceAcks, Producer } from '@platformatic/kafka';
import { performance } from 'node:perf_hooks';
import { partitionOf } from '../../domain/partitioning.js';
import { HotAdDetector, type HotAdOptions } from '../../ingest/hot-ads.js';
import {
  NotAppendedError,
  type AppendOptions,
  type EventAppender,
  type LogPosition,
  type PartitionKey,
} from '../event-log.js';
import { LogClosedError, LogError } from '../log-errors.js';
import { describeKafkaError } from './kafka-errors.js';
import { ensureTopic } from './kafka-topic.js';

/** Called once per produce request, for metrics (the Kafka side of LogFlushObserver). */
export interface ProduceObserver {
  onProduce(produce: { records: number; bytes: number; seconds: number; failed: boolean }): void;
}

export interface KafkaEventAppenderOptions {
  /** host:port of one or more brokers. */
  readonly bootstrap: readonly string[];
  readonly topic: string;
  /** The topic's partition count: created so when missing, a mismatch is an error at open. */
  readonly partitions: number;
  /** Partitions a hot ad is spread over (domain/partitioning.ts); default min(4, partitions). */
  readonly hotSpread?: number;
  readonly hotAds?: HotAdOptions;
  readonly clientId?: string;
  /** How long one produce request may take before it fails (the client retries within it); default 5000. */
  readonly requestTimeoutMs?: number;
  readonly observer?: ProduceObserver;
}

/** A produce request failed: every append in it rejects with this (the records may or may not be in the log). */
export class KafkaProduceError extends LogError {
  readonly retriable = true;
}

interface PendingAppend {
  readonly payload: Buffer;
  readonly partition: number;
  readonly origin: string | undefined;
  readonly resolve: (position: LogPosition) => void;
  readonly reject: (error: Error) => void;
  /** Set once the append is in a produce request: a withdrawal is too late from then on. */
  sent: boolean;
}

/** The record header that carries a forwarded record's origin (AppendOptions.origin). */
export const ORIGIN_HEADER = 'adtally-origin';
const ORIGIN_HEADER_KEY = Buffer.from(ORIGIN_HEADER);

export const DEFAULT_HOT_SPREAD = 4;
/** How long appends are refused unsent after a produce request failed for good. */
const REFUSE_AFTER_FAILURE_MS = 1_000;

/**
 * The Kafka event log's appending side: an idempotent producer with
 * acks=all, and a group commit: at most one produce request in flight, and
 * every append that arrives while it is in flight joins the next one (one
 * request for every partition, since one broker leads them all here; the
 * client splits it per leader otherwise). An append resolves with its
 * partition and offset only once the broker acknowledged the request.
 *
 * One request at a time is what makes the idempotent producer correct with
 * this client: @platformatic/kafka 1.35 advances its sequence numbers only
 * when a response arrives, so a second request in flight reuses the first
 * one's sequence and fails with OUT_OF_ORDER_SEQUENCE_NUMBER (measured; see
 * docs/KAFKA-CLIENT.md). The client's own retries resend a request with the
 * same sequence, so the broker writes a retried batch once. After a request
 * failed for good, the sequence the broker expects is unknown (the batch may
 * have been written), so the producer is replaced: a new producer id starts
 * its sequences afresh and no later batch can be taken for a duplicate.
 */
export class KafkaEventAppender implements EventAppender {
  readonly partitions: number;
  private readonly spread: number;
  private readonly hot: HotAdDetector;
  private producer: Producer;
  private pending: PendingAppend[] = [];
  private inFlight: Promise<void> | undefined;
  private closed = false;
  /** Until then (ms), appends are refused unsent: a produce request just failed for good. */
  private refuseUntil = 0;

  private constructor(private readonly options: KafkaEventAppenderOptions) {
    this.partitions = options.partitions;
    this.spread = options.hotSpread ?? Math.min(DEFAULT_HOT_SPREAD, options.partitions);
    this.hot = new HotAdDetector(options.hotAds);
    this.producer = this.newProducer();
  }

  /** Ensures the topic (see ensureTopic), then starts the producer (its id is fetched on the first request). */
  static async open(options: KafkaEventAppenderOptions): Promise<KafkaEventAppender> {
    if (!Number.isInteger(options.partitions) || options.partitions < 1) {
      throw new RangeError(`partitions must be a positive integer, got ${options.partitions}`);
    }
    await ensureTopic(options.bootstrap, options.topic, options.partitions);
    return new KafkaEventAppender(options);
  }

  /** The partition an event of `key` goes to now (hotness counted: call once per event). */
  partitionFor(key: PartitionKey): number {
    const spread = this.hot.observe(key.ad) ? this.spread : 1;
    return partitionOf(key.ad, key.imp, this.partitions, spread);
  }

  append(payload: Buffer, key: PartitionKey, options: AppendOptions = {}): Promise<LogPosition> {
    if (this.closed)
      return Promise.reject(new LogClosedError(`Kafka topic ${this.options.topic}: appender is closed`));
    const { signal, origin } = options;
    if (signal?.aborted === true) return Promise.reject(new NotAppendedError('withdrawn before it was sent'));
    if (Date.now() < this.refuseUntil) {
      return Promise.reject(
        new NotAppendedError(`Kafka topic ${this.options.topic}: a produce request just failed; not sent`),
      );
    }
    // A forwarded record (it has an origin) does not count towards hotness: a collector's forward
    // burst would otherwise make an ad hot in the middle of it and send the later events of an
    // impression to another partition than its first, whose worker may read them first.
    const partition =
      origin === undefined
        ? this.partitionFor(key)
        : partitionOf(key.ad, key.imp, this.partitions, this.hot.isHot(key.ad) ? this.spread : 1);
    return new Promise((resolve, reject) => {
      const append: PendingAppend = { payload, partition, origin, resolve, reject, sent: false };
      this.pending.push(append);
      if (this.inFlight === undefined) this.inFlight = this.drain();
      // Still waiting behind the request in flight: taken out, it is surely not in the log.
      signal?.addEventListener(
        'abort',
        () => {
          if (append.sent) return;
          const at = this.pending.indexOf(append);
          if (at !== -1) this.pending.splice(at, 1);
          reject(new NotAppendedError(`withdrawn before it was sent to Kafka topic ${this.options.topic}`));
        },
        { once: true },
      );
    });
  }

  /** Rejects when no broker answers a metadata request for the topic. */
  async check(): Promise<void> {
    try {
      await this.producer.metadata({ topics: [this.options.topic], forceUpdate: true });
    } catch (error) {
      throw new Error(
        `Kafka at ${this.options.bootstrap.join(',')} is unreachable: ${describeKafkaError(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.inFlight;
    await this.producer.close();
  }

  /** Sends the pending appends, one request at a time, until none are left. */
  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      for (const append of batch) append.sent = true;
      const failed = !(await this.produce(batch));
      if (failed) {
        // The broker is likely away: the appends still waiting are refused unsent (a collector
        // spills them) instead of each waiting out a request timeout, and so are new ones for a
        // moment. Only the request that failed has records of unknown fate.
        this.refuseUntil = Date.now() + REFUSE_AFTER_FAILURE_MS;
        const waiting = this.pending;
        this.pending = [];
        for (const append of waiting) {
          append.reject(
            new NotAppendedError(`Kafka topic ${this.options.topic}: the request before failed; not sent`),
          );
        }
      }
    }
    this.inFlight = undefined;
  }

  /** Sends one request; resolves false when it failed (every append of it rejected). */
  private async produce(batch: PendingAppend[]): Promise<boolean> {
    const { topic } = this.options;
    const started = performance.now();
    let bytes = 0;
    const messages = batch.map((a) => {
      bytes += a.payload.length;
      return a.origin === undefined
        ? { topic, partition: a.partition, value: a.payload }
        : {
            topic,
            partition: a.partition,
            value: a.payload,
            headers: new Map([[ORIGIN_HEADER_KEY, Buffer.from(a.origin)]]),
          };
    });
    let failure: Error | undefined;
    let bases: Map<number, number> | undefined;
    try {
      const result = await this.producer.send({ messages });
      bases = new Map((result.offsets ?? []).map((o) => [o.partition, Number(o.offset)]));
    } catch (error) {
      failure = new KafkaProduceError(
        `Kafka produce to topic ${topic} failed: ${describeKafkaError(error)}`,
        {
          cause: error,
        },
      );
      await this.replaceProducer();
    }
    this.options.observer?.onProduce({
      records: batch.length,
      bytes,
      seconds: (performance.now() - started) / 1000,
      failed: failure !== undefined,
    });
    // Within a partition the request keeps the order of `messages`, so the
    // k-th record of partition p is at base(p) + k.
    const next = new Map<number, number>();
    for (const append of batch) {
      if (failure !== undefined) {
        append.reject(failure);
        continue;
      }
      const base = bases?.get(append.partition);
      if (base === undefined || base < 0) {
        append.reject(
          new KafkaProduceError(`Kafka produce to ${topic}: no offset for partition ${append.partition}`),
        );
        continue;
      }
      const k = next.get(append.partition) ?? 0;
      next.set(append.partition, k + 1);
      append.resolve({ partition: append.partition, offset: base + k });
    }
    return failure === undefined;
  }

  private newProducer(): Producer {
    return new Producer({
      clientId: this.options.clientId ?? 'adtally-collector',
      bootstrapBrokers: [...this.options.bootstrap],
      idempotent: true,
      acks: ProduceAcks.ALL,
      timeout: this.options.requestTimeoutMs ?? 5000,
      retries: 3,
      retryDelay: 250,
      autocreateTopics: false,
    });
  }

  private async replaceProducer(): Promise<void> {
    const old = this.producer;
    this.producer = this.newProducer();
    await old.close().catch(() => undefined);
  }
}

/** Opens the Kafka event log for appending (see KafkaEventAppender). */
export function openKafkaEventAppender(options: KafkaEventAppenderOptions): Promise<KafkaEventAppender> {
  return KafkaEventAppender.open(options);
}
