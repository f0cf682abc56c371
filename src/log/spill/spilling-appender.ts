import { decodeEvent } from '../../domain/event.js';
import {
  NotAppendedError,
  type AppendOptions,
  type EventAppender,
  type EventLog,
  type LogPosition,
  type PartitionKey,
} from '../event-log.js';
import type { ForwardPosition } from './forward-position.js';

/** What a spilling appender is doing, for /readyz and the metrics. */
export interface SpillState {
  /** `direct`: appends go to Kafka; `spilling`: to the local log, forwarded when Kafka answers again. */
  readonly mode: 'direct' | 'spilling';
  /** Spill log bytes not yet forwarded. */
  readonly pendingBytes: number;
  /** Events spilled and events forwarded since start. */
  readonly spilled: number;
  readonly forwarded: number;
}

export interface SpillingAppenderOptions {
  /** Where appends go while it answers in time (Kafka). */
  readonly primary: EventAppender;
  /** The collector's local file log (durable, fsync'd). */
  readonly spill: EventLog;
  readonly position: ForwardPosition;
  /** This collector's id: forwarded records carry `<origin>/<spill offset>`. */
  readonly origin: string;
  /** How long an append may wait to be sent to Kafka before it is spilled instead. */
  readonly deadlineMs: number;
  /** Pause between forwarding attempts while Kafka is away. */
  readonly retryMs?: number;
  /**
   * Tells the cluster that events from `sinceMs` on are held in the spill log
   * (AggregateStore.setSpillHold), undefined once all are forwarded: the
   * watermark waits for them, so forwarded events are not late.
   */
  readonly hold?: (sinceMs: number | undefined) => Promise<void>;
  /**
   * Resolves once the workers have committed everything Kafka holds now, so
   * every forwarded event is counted: only then is the hold lifted (else a
   * query could see the watermark pass minutes whose forwarded events are
   * still being aggregated). Absent: lifted as soon as all is forwarded.
   */
  readonly committedAll?: () => Promise<void>;
  readonly log?: (line: string) => void;
}

/** Spilled records forwarded per round: bounded, so a long backlog does not hold them all in memory. */
const FORWARD_BYTES = 1024 * 1024;
/** A position no partition has: the record went to the spill log, at the offset given. */
export const SPILL_PARTITION = -1;

/**
 * Store and forward (issue 9 item 8). An append goes to Kafka; when Kafka
 * does not take it within the deadline, it goes to the local file log
 * instead, still durable before the answer. From then on every append is
 * spilled, so the order of events is kept, until a forwarder has sent the
 * whole spill log to Kafka (in order, each record with its origin) and
 * recorded how far it got; then appends go to Kafka again.
 *
 * No event is lost or doubled: an append withdrawn at the deadline was never
 * sent (AppendOptions.signal), so it exists once, in the spill log; one
 * already sent waits for Kafka's own answer. A forward replayed after a
 * crash carries the same origin, and the worker skips a record whose origin
 * it has seen.
 */
export class SpillingAppender implements EventAppender {
  readonly partitions: number;
  private mode: 'direct' | 'spilling' = 'direct';
  /** Spill appends not yet durable: the switch back to direct waits for them. */
  private spillingNow = 0;
  private spilled = 0;
  private forwarded = 0;
  private forwarding: Promise<void> | undefined;
  private closed = false;
  /** Settles once the hold of the current spill was written (or failed: logged); spilled appends wait for it. */
  private holdWritten: Promise<void> = Promise.resolve();
  /** The hold written and not lifted yet: a new spill never moves it later. */
  private heldSince: number | undefined;
  /** Lifting the hold once the forwarded events are committed; runs beside a new forwarder. */
  private lifting: Promise<void> | undefined;

  private constructor(private readonly options: SpillingAppenderOptions) {
    this.partitions = options.primary.partitions;
  }

  /**
   * Starts in spilling mode when the spill log holds records not yet forwarded
   * (a crash while spilling), holding the watermark at the oldest of them.
   */
  static async open(options: SpillingAppenderOptions): Promise<SpillingAppender> {
    const appender = new SpillingAppender(options);
    const { position, spill } = options;
    if (position.get() < spill.durableEnd()) {
      const { records } = await spill.read(Math.max(position.get(), spill.startOffset()), 64 * 1024);
      const first = records[0] === undefined ? undefined : eventTimeOf(records[0].payload);
      appender.startSpilling(
        'records left from before',
        first === undefined ? undefined : first - HOLD_MARGIN_MS,
      );
    } else if (options.hold !== undefined) {
      // A crash after forwarding everything may have left this collector's hold up: lifted once
      // the workers committed what Kafka holds.
      appender.lifting = appender.liftHoldOnceCommitted();
    }
    return appender;
  }

  state(): SpillState {
    return {
      mode: this.mode,
      pendingBytes: Math.max(0, this.options.spill.durableEnd() - this.options.position.get()),
      spilled: this.spilled,
      forwarded: this.forwarded,
    };
  }

  async append(payload: Buffer, key: PartitionKey, options: AppendOptions = {}): Promise<LogPosition> {
    if (this.closed) throw new Error('event log closed');
    if (this.mode === 'direct') {
      const deadline = new AbortController();
      const timer = setTimeout(() => deadline.abort(), this.options.deadlineMs);
      try {
        return await this.options.primary.append(payload, key, { ...options, signal: deadline.signal });
      } catch (err) {
        // Withdrawn or refused before it was sent: surely not in Kafka, so it goes to the spill log.
        if (!(err instanceof NotAppendedError)) throw err;
        this.startSpilling(
          deadline.signal.aborted
            ? `Kafka did not take an event within ${this.options.deadlineMs} ms`
            : `Kafka refused an event (${err.message})`,
        );
      } finally {
        clearTimeout(timer);
      }
    }
    return this.appendToSpill(payload);
  }

  private async appendToSpill(payload: Buffer): Promise<LogPosition> {
    this.spillingNow++;
    try {
      const [offset] = await Promise.all([this.options.spill.append(payload), this.holdWritten]);
      this.spilled++;
      return { partition: SPILL_PARTITION, offset };
    } finally {
      this.spillingNow--;
    }
  }

  private startSpilling(reason: string, sinceMs?: number): void {
    if (this.mode === 'spilling') return;
    this.mode = 'spilling';
    this.print(`spilling events to the local log: ${reason}`);
    // Every event spilled from now on was received after this (it waited at most the deadline);
    // a hold still up for events forwarded before (not yet committed) stays the earlier.
    const since = Math.min(
      sinceMs ?? Date.now() - this.options.deadlineMs - HOLD_MARGIN_MS,
      this.heldSince ?? Infinity,
    );
    this.heldSince = since;
    this.holdWritten = (this.options.hold?.(since) ?? Promise.resolve()).catch((err: unknown) => {
      this.print(`could not tell the cluster to hold its watermark: ${(err as Error).message}`);
    });
    if (this.forwarding === undefined) {
      const run = this.forwardUntilDrained();
      this.forwarding = run;
      void run.finally(() => {
        if (this.forwarding === run) this.forwarding = undefined;
      });
    }
  }

  /** Forwards the spill log until it is drained, then sends appends to Kafka again. */
  private async forwardUntilDrained(): Promise<void> {
    const { spill, position, primary } = this.options;
    const retryMs = this.options.retryMs ?? 500;
    while (!this.closed) {
      try {
        await primary.check();
        const from = Math.max(position.get(), spill.startOffset());
        if (from >= spill.durableEnd()) {
          if (this.spillingNow === 0) {
            await this.trimSpill();
            // Spilled meanwhile: forward that too before going direct.
            if (this.spillingNow > 0 || position.get() < spill.durableEnd()) continue;
            // Nothing spilled is left unforwarded and no spill append is under way: back to direct
            // (later events land after the forwarded ones in every partition), with no await from
            // here on, so a spill that starts later gets a forwarder of its own. The hold stays up
            // until the workers have committed what was forwarded.
            this.mode = 'direct';
            this.forwarding = undefined;
            this.print(`all spilled events forwarded (${this.forwarded} so far); appending to Kafka again`);
            if (this.heldSince !== undefined) this.lifting = this.liftHoldOnceCommitted();
            return;
          }
          await sleep(5);
          continue;
        }
        const batch = await spill.read(from, FORWARD_BYTES);
        await Promise.all(
          batch.records.map((record) =>
            primary.append(record.payload, keyOf(record.payload), {
              origin: `${this.options.origin}/${record.offset}`,
            }),
          ),
        );
        await position.set(batch.next);
        this.forwarded += batch.records.length;
      } catch (err) {
        if (this.closed) return;
        this.print(`forwarding spilled events paused: ${(err as Error).message}`);
        await sleep(retryMs);
      }
    }
  }

  /** Lifts the hold once everything Kafka holds is committed, unless a new spill began meanwhile. */
  private async liftHoldOnceCommitted(): Promise<void> {
    const retryMs = this.options.retryMs ?? 500;
    while (!this.closed && this.mode === 'direct') {
      try {
        await this.options.committedAll?.();
        if (this.mode !== 'direct') return;
        await this.options.hold?.(undefined);
        this.heldSince = undefined;
        return;
      } catch (err) {
        this.print(`the watermark hold stays up for now: ${(err as Error).message}`);
        await sleep(retryMs);
      }
    }
  }

  /** Deletes forwarded spill segments. */
  private async trimSpill(): Promise<void> {
    await this.options.spill.applyRetention({
      consumedBelow: this.options.position.get(),
      now: Date.now(),
      maxAgeMs: 0,
      maxBytes: undefined,
    });
  }

  /** Ready as long as one of the two logs takes appends; spilling is degraded, not down. */
  async check(): Promise<void> {
    if (this.mode === 'direct') {
      await this.options.primary.check();
      return;
    }
    await this.options.spill.check();
  }

  /** Why the collector is degraded, or undefined when it is not. */
  degraded(): string | undefined {
    if (this.mode === 'direct') return undefined;
    const { pendingBytes } = this.state();
    return `Kafka unavailable: spilling to the local log (${pendingBytes} bytes not yet forwarded)`;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.forwarding;
    await this.lifting;
    await this.options.spill.close();
    await this.options.primary.close();
  }

  private print(line: string): void {
    (this.options.log ?? ((l: string) => console.error(l)))(`adtally collector: ${line}`);
  }
}

/** The partition key of a spilled record: its event's ad and imp (a record that does not decode goes by ad 0). */
function keyOf(payload: Buffer): PartitionKey {
  try {
    const event = decodeEvent(payload);
    return { ad: event.ad, imp: event.imp };
  } catch {
    return { ad: 0, imp: '' };
  }
}

/** Slack for clocks of collectors and the time an event spent before its append. */
const HOLD_MARGIN_MS = 1_000;

/** The earlier of a spilled record's event time and receive time, or undefined when it does not decode. */
function eventTimeOf(payload: Buffer): number | undefined {
  try {
    const event = decodeEvent(payload);
    return Math.min(event.eventTime, event.receivedAt);
  } catch {
    return undefined;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
