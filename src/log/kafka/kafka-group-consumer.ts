import { Consumer, type GroupAssignment } from '@platformatic/kafka';
import type { LogBatch, LogReader } from '../event-log.js';
import { LogError } from '../log-errors.js';
import { describeKafkaError } from './kafka-errors.js';
import { DEFAULT_FETCH_WAIT_MS, PartitionFetcher } from './partition-fetcher.js';

export interface PartitionLease {
  readonly partition: number;
  /** Reads this partition from any offset (seeks when `from` is not where it stands); rejects after revocation. */
  readonly reader: LogReader;
  /**
   * Reads like `reader` but is not what `lag()` reports: for a second
   * consumer of the same lease (the archiver beside the aggregation), whose
   * position would otherwise make the aggregation's lag jump back and forth.
   */
  readonly sideReader: LogReader;
  /** Aborted when the group takes the partition away from this member (rebalance, close). */
  readonly revoked: AbortSignal;
}

export interface GroupConsumerOptions {
  /** host:port of one or more brokers. */
  readonly bootstrap: readonly string[];
  readonly topic: string;
  readonly group: string;
  readonly clientId?: string;
  /** A member silent this long loses its partitions; default 10000 (the broker allows 1000 and up: kafka.sh). */
  readonly sessionTimeoutMs?: number;
  /** Default a third of the session timeout. */
  readonly heartbeatIntervalMs?: number;
  /** Upper bound of one read's bytes, whatever the caller asks; default 4 MiB. */
  readonly maxBufferedBytes?: number;
  /** How long a read with nothing to return waits at the broker; default 100 ms. */
  readonly fetchWaitMs?: number;
}

export interface GroupConsumer {
  /** Partitions this member holds a live lease on, ascending. */
  assignedPartitions(): number[];
  /** Per leased partition that was read: high watermark minus the `next` of its last read. */
  lag(): Map<number, number>;
  /** Rejects when no broker answers (for /readyz). */
  check(): Promise<void>;
  /** Revokes every lease, leaves the group (so the others rebalance at once), closes. */
  close(): Promise<void>;
}

/** A read through a lease the group has taken away. */
export class LeaseRevokedError extends LogError {
  readonly retriable = false;
}

const DEFAULT_SESSION_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;

interface LeaseState {
  readonly lease: PartitionLease;
  readonly controller: AbortController;
  readonly fetcher: PartitionFetcher;
  next: number | undefined;
}

/**
 * One member of consumer group `group` on `topic` (the classic protocol,
 * round-robin assignment). Kafka decides which member reads which
 * partition; each assignment is handed to `onAssigned` as a lease.
 *
 * Revocation is eager, as the classic protocol is: every lease is revoked
 * when a rebalance starts (a heartbeat answered REBALANCE_IN_PROGRESS), when
 * a new generation is joined (then the new assignment is leased afresh, even
 * a partition this member keeps), at close, and when no heartbeat succeeded
 * for a whole session timeout (a member paused with SIGSTOP: the coordinator
 * has evicted it and given its partitions to others, so its leases end as
 * soon as its timers run again, before its next heartbeat learns it).
 * Revocation narrows the window in which a zombie acts; it cannot close it
 * (the process may be paused between a check and a store commit), which is
 * why store commits carry the partition's owner epoch (SPEC 5).
 *
 * Offsets are not committed to Kafka: a worker resumes from the checkpoint
 * committed with its counts in the store.
 */
export async function openGroupConsumer(
  options: GroupConsumerOptions,
  onAssigned: (lease: PartitionLease) => void,
): Promise<GroupConsumer> {
  const sessionTimeout = options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
  const heartbeatInterval = options.heartbeatIntervalMs ?? Math.max(100, Math.floor(sessionTimeout / 3));
  const maxBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BYTES;
  const fetchWaitMs = options.fetchWaitMs ?? DEFAULT_FETCH_WAIT_MS;
  const { topic } = options;
  const newConsumer = (): Consumer =>
    new Consumer({
      clientId: options.clientId ?? 'adtally-worker',
      groupId: options.group,
      bootstrapBrokers: [...options.bootstrap],
      sessionTimeout,
      heartbeatInterval,
      rebalanceTimeout: sessionTimeout,
      retries: 3,
      retryDelay: 250,
    });
  let consumer = newConsumer();
  const leases = new Map<number, LeaseState>();
  let lastHeartbeat = Date.now();
  let closed = false;
  /** Set while a new member is being made after the old one gave up (see `rejoin`). */
  let rejoining: Promise<void> | undefined;

  const revokeAll = (why: string): void => {
    for (const state of leases.values()) state.controller.abort(new LeaseRevokedError(why));
    leases.clear();
  };

  const lease = (partition: number): void => {
    const controller = new AbortController();
    const fetcher = new PartitionFetcher(consumer, topic, partition, fetchWaitMs);
    const revoked = controller.signal;
    const guard = (): void => {
      if (revoked.aborted) throw revoked.reason as Error;
    };
    /** A reader of the lease; `counted`: its position is what `lag()` reports. */
    const readerOf = (counted: boolean): LogReader => ({
      durableEnd: () => fetcher.durableEnd(),
      startOffset: () => fetcher.startOffset(),
      async read(from: number, bytes: number): Promise<LogBatch> {
        guard();
        const batch = await fetcher.read(from, Math.min(bytes, maxBytes));
        guard();
        if (counted) state.next = batch.next;
        return batch;
      },
    });
    const state: LeaseState = {
      controller,
      fetcher,
      next: undefined,
      lease: { partition, revoked, reader: readerOf(true), sideReader: readerOf(false) },
    };
    leases.set(partition, state);
    onAssigned(state.lease);
  };

  const onJoin = (payload: { generationId?: number; assignments?: GroupAssignment[] }): void => {
    revokeAll(`partition revoked: ${topic} group ${options.group} joined generation ${payload.generationId}`);
    lastHeartbeat = Date.now();
    if (closed) return;
    const mine = payload.assignments?.find((a) => a.topic === topic)?.partitions ?? [];
    for (const partition of [...mine].sort((a, b) => a - b)) lease(partition);
  };
  const join = async (member: Consumer): Promise<void> => {
    member.on('consumer:group:join', onJoin);
    member.on('consumer:group:rebalance', () =>
      revokeAll(`partition revoked: group ${options.group} rebalances`),
    );
    member.on('consumer:heartbeat:end', () => {
      lastHeartbeat = Date.now();
    });
    // The client reports here that its background rejoin gave up (the broker was away longer than
    // its retries): this member is dead, so a new one joins.
    member.on('error', () => {
      if (member === consumer) rejoin();
    });
    const metadata = await member.metadata({ topics: [topic], forceUpdate: true });
    if (!metadata.topics.has(topic)) throw new Error(`Kafka topic ${topic} does not exist`);
    member.topics.track(topic);
    await member.joinGroup({ sessionTimeout, heartbeatInterval, rebalanceTimeout: sessionTimeout });
    lastHeartbeat = Date.now();
  };

  /**
   * Replaces a member that stopped taking part in the group (its rejoin
   * failed while the broker restarted, or it was paused past its session)
   * with a new one, retrying with backoff until a join succeeds or the
   * consumer is closed. Its leases are revoked first.
   */
  const rejoin = (): void => {
    if (closed || rejoining !== undefined) return;
    revokeAll(`partition revoked: member of group ${options.group} lost the group; joining again`);
    rejoining = (async () => {
      let delay = 250;
      while (!closed) {
        const old = consumer;
        consumer = newConsumer();
        await new Promise<void>((resolve) => old.close(true, () => resolve()));
        try {
          await join(consumer);
          return;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, delay));
          delay = Math.min(delay * 2, 5_000);
        }
      }
    })().finally(() => (rejoining = undefined));
  };

  const watchdog = setInterval(
    () => {
      const silent = Date.now() - lastHeartbeat;
      if (leases.size > 0 && silent > sessionTimeout) {
        revokeAll(`partition revoked: no heartbeat of group ${options.group} for ${sessionTimeout} ms`);
      }
      // Twice the session without a heartbeat or a join: the group has surely dropped this member.
      if (silent > 2 * sessionTimeout) rejoin();
    },
    Math.min(heartbeatInterval, 1000),
  );
  watchdog.unref();

  try {
    await join(consumer);
  } catch (error) {
    clearInterval(watchdog);
    await consumer.close().catch(() => undefined);
    throw new Error(`cannot join Kafka group ${options.group} on ${topic}: ${describeKafkaError(error)}`, {
      cause: error,
    });
  }

  return {
    assignedPartitions: () => [...leases.keys()].sort((a, b) => a - b),
    lag() {
      const lag = new Map<number, number>();
      for (const [partition, state] of leases) {
        if (state.next !== undefined)
          lag.set(partition, Math.max(0, state.fetcher.durableEnd() - state.next));
      }
      return lag;
    },
    async check() {
      try {
        await consumer.metadata({ topics: [topic], forceUpdate: true });
      } catch (error) {
        throw new Error(
          `Kafka at ${options.bootstrap.join(',')} is unreachable: ${describeKafkaError(error)}`,
          {
            cause: error,
          },
        );
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(watchdog);
      revokeAll(`partition revoked: member of group ${options.group} closed`);
      await rejoining;
      await consumer.close();
    },
  };
}
