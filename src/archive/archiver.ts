import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeEvent, EventDecodeError, type TrackedEvent } from '../domain/event.js';
import type { LogReader } from '../log/event-log.js';
import type { ArchiveMetrics } from '../metrics/archive-metrics.js';
import { FencedCommitError, type AggregateStore, type ConsumerCheckpoint } from '../store/aggregate-store.js';
import { AdOwners, type LoadAds } from './ad-owners.js';
import { removeUncommitted, removeUncommittedIn } from './archive-files.js';
import { archiveFileName, hourDir, hourOf } from './archive-layout.js';
import type { ArchivedEvent } from './archive-schema.js';
import { FlushWaiters } from './flush-waiters.js';
import type { WrittenFile } from './parquet-writer.js';

export { ArchiveFlushTimeoutError } from './flush-waiters.js';

/** What writes one file of the archive (ParquetArchiveWriter; a test wraps it to inject faults). */
export interface ArchiveFileWriter {
  write(finalPath: string, rows: readonly ArchivedEvent[]): Promise<WrittenFile>;
}

export interface ArchiverOptions {
  readonly log: LogReader;
  /** Where the archiver's position is committed (a consumer checkpoint with no deltas). */
  readonly store: Pick<AggregateStore, 'loadCheckpoint' | 'commit'>;
  readonly loadAds: LoadAds;
  readonly writer: ArchiveFileWriter;
  /** The archive's root directory (the path of the `file:` archive URL). */
  readonly root: string;
  /** Checkpoint row: `archive` in serve, `archive/<topic>/<partition>` in a worker. */
  readonly consumer: string;
  /** The log partition (Kafka); undefined for the file log, whose rows say partition 0. */
  readonly partition?: number;
  /** Owner epoch of `consumer` (claimOwnership); a fenced commit stops the archiver for good. */
  readonly epoch?: number;
  readonly onFenced?: (err: FencedCommitError) => void;
  /** Files are closed and the position committed at least this often while events flow. */
  readonly rollIntervalMs: number;
  /** ... and as soon as the rows read since the last roll are estimated at this many bytes of memory. */
  readonly rollBytes: number;
  readonly metrics: ArchiveMetrics;
  /** First wait after a fault; doubles while faults repeat, up to 10 s. */
  readonly retryDelayMs?: number;
  readonly idlePollMs?: number;
  readonly now?: () => number;
  readonly print?: (line: string) => void;
}

const READ_BYTES = 4 * 1024 * 1024;
const MAX_RETRY_DELAY_MS = 10_000;
/**
 * Memory of one buffered row beyond its record bytes: the row object's
 * fields and the decoded imp string (measured with V8 heap snapshots at
 * about 180-220 bytes; rounded up so the budget errs on the safe side).
 */
const ROW_OVERHEAD_BYTES = 256;
/** Tries of the last roll when stopping before giving up (the log keeps the events; the next start archives them). */
const STOP_ROLL_TRIES = 3;

/** How long `flushNow` waits by default. */
const DEFAULT_FLUSH_TIMEOUT_MS = 30_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Copies the event log into the raw archive (SPEC 4.5, issue 10): every
 * event, valid or not, as one row of an hourly Parquet file.
 *
 * Exactly once, after any crash: the archiver reads from its committed
 * position, buffers rows grouped by the hour of their event time, and at
 * each roll writes one file per hour (`.tmp`, fsync, rename, directory
 * fsync: parquet-writer.ts) and only then commits the position past them.
 * At start, and after every fault, it deletes its partition's `.tmp` files
 * and final files whose first offset is >= the committed position: those are
 * the rows of an attempt whose commit never landed, which the rerun writes
 * again. A file name is its range of offsets, so a committed file and a
 * rerun never overlap.
 */
export class Archiver {
  private offset = 0;
  private committed: ConsumerCheckpoint = { offset: 0, maxEventTime: undefined };
  private maxEventTime: number | undefined;
  private hours = new Map<number, ArchivedEvent[]>();
  private bufferedBytes = 0;
  private lastRoll: number;
  private running = true;
  private abandoned = false;
  private loop: Promise<void> | undefined;
  private failure: Error | undefined;
  private retryDelay: number;
  private readonly waiters = new FlushWaiters();
  private readonly owners: AdOwners;
  private readonly now: () => number;
  private readonly label: string;
  /** Ends the wait between retries at once: set while one runs. */
  private wake: (() => void) | undefined;

  private constructor(private readonly options: ArchiverOptions) {
    this.now = options.now ?? Date.now;
    this.lastRoll = this.now();
    this.retryDelay = options.retryDelayMs ?? 1_000;
    this.owners = new AdOwners(options.loadAds);
    this.label = String(options.partition ?? 0);
  }

  /** Recovers the archive of its partition, then archives until stopped. */
  static async start(options: ArchiverOptions): Promise<Archiver> {
    const archiver = new Archiver(options);
    await archiver.restore();
    archiver.loop = archiver.run();
    return archiver;
  }

  /** Offset below which every record of the log is in a committed archive file. */
  committedOffset(): number {
    return this.committed.offset;
  }

  /** Rejects while the archiver is recovering from a fault, or after it was fenced (for /readyz). */
  check(): Promise<void> {
    return this.failure === undefined ? Promise.resolve() : Promise.reject(this.failure);
  }

  /**
   * Closes files now instead of at the end of the roll interval, and resolves
   * with the committed offset once it has reached the log's durable end as
   * of this call (so it covers whatever any other consumer had read then:
   * what reconciliation needs). Rejects if the archiver stops first, or with
   * an ArchiveFlushTimeoutError after `timeoutMs` (a fault keeps it from
   * committing, or it has a long backlog to archive first).
   */
  flushNow(timeoutMs = DEFAULT_FLUSH_TIMEOUT_MS): Promise<number> {
    const target = this.options.log.durableEnd();
    if (this.committed.offset >= target) return Promise.resolve(this.committed.offset);
    if (!this.running) return Promise.reject(new Error('the archiver is stopped'));
    return this.waiters.wait(target, timeoutMs, () => ({
      committed: this.committed.offset,
      why: this.failure === undefined ? 'still archiving' : `failing: ${this.failure.message}`,
    }));
  }

  /** Archives everything durable now, commits it, and stops: a clean stop leaves every event readable. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /** Stops without writing or committing what was read (the partition was revoked; its next owner archives it). */
  async abandon(): Promise<void> {
    this.abandoned = true;
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  private async restore(): Promise<void> {
    const { store, consumer, log, root, partition } = this.options;
    const checkpoint = await store.loadCheckpoint(consumer);
    const offset = checkpoint?.offset ?? log.startOffset();
    const removed = await removeUncommitted(root, partition, offset);
    if (removed > 0) this.print(`removed ${removed} uncommitted archive file(s) at or past offset ${offset}`);
    this.offset = offset;
    this.committed = { offset, maxEventTime: checkpoint?.maxEventTime };
    this.maxEventTime = checkpoint?.maxEventTime;
    this.dropBuffer();
  }

  private async run(): Promise<void> {
    for (;;) {
      try {
        await this.consume();
        if (!this.abandoned) await this.finalRoll();
        this.rejectWaiters(new Error('the archiver stopped'));
        return;
      } catch (err) {
        if (err instanceof FencedCommitError) {
          this.failure = err;
          this.running = false;
          this.rejectWaiters(err);
          this.options.onFenced?.(err);
          return;
        }
        if (this.abandoned) return;
        this.failure = err instanceof Error ? err : new Error(String(err));
        this.options.metrics.faults.inc();
        this.print(
          `failed, restarting from the last commit in ${this.retryDelay} ms: ${this.failure.message}`,
        );
        if (!(await this.recover())) {
          this.rejectWaiters(this.failure);
          return;
        }
      }
    }
  }

  /**
   * Waits, then restores from the last commit, until that works (then the
   * consume loop, or the last roll of a stop, runs again). False when it did
   * not work while stopping: what is not committed stays in the log, and the
   * next start archives it.
   */
  private async recover(): Promise<boolean> {
    for (;;) {
      await this.pause(this.retryDelay);
      this.retryDelay = Math.min(this.retryDelay * 2, MAX_RETRY_DELAY_MS);
      if (this.abandoned) return false;
      try {
        // The failure stays reported until a roll succeeds or the archiver has caught up.
        await this.restore();
        return true;
      } catch (err) {
        this.failure = err instanceof Error ? err : new Error(String(err));
        this.print(`could not restore from the last commit: ${this.failure.message}`);
        // Stopping: one try was made; the next start archives what is left.
        if (!this.running) return false;
      }
    }
  }

  /** Reads and rolls until stopped. */
  private async consume(): Promise<void> {
    const { log, metrics } = this.options;
    const idle = this.options.idlePollMs ?? 20;
    while (this.running) {
      const read = await this.readBatch();
      const due = this.now() - this.lastRoll >= this.options.rollIntervalMs;
      const full = this.bufferedBytes >= this.options.rollBytes;
      if (this.offset > this.committed.offset && (due || full || this.waiters.pending)) await this.roll();
      metrics.lag.set({ partition: this.label }, Math.max(0, log.durableEnd() - this.committed.offset));
      if (read === 0) {
        // Recovered and caught up: nothing is left that a fault could still keep out of the archive.
        if (this.offset === this.committed.offset) this.failure = undefined;
        await sleep(idle);
      }
    }
  }

  /** The clean stop: everything durable now goes into files and is committed, retried a few times. */
  private async finalRoll(): Promise<void> {
    const target = this.options.log.durableEnd();
    for (let attempt = 1; ; attempt++) {
      try {
        while (this.offset < target) {
          if ((await this.readBatch()) === 0 && this.offset < target)
            await sleep(this.options.idlePollMs ?? 20);
          if (this.bufferedBytes >= this.options.rollBytes) await this.roll();
        }
        if (this.offset > this.committed.offset) await this.roll();
        return;
      } catch (err) {
        if (err instanceof FencedCommitError) throw err;
        this.print(`could not archive at stop (try ${attempt}): ${(err as Error).message}`);
        if (attempt >= STOP_ROLL_TRIES) return;
        await sleep(this.retryDelay);
        await this.restore();
      }
    }
  }

  /** Reads one batch into the hour buffers; returns the number of records read. */
  private async readBatch(): Promise<number> {
    const batch = await this.options.log.read(this.offset, READ_BYTES);
    const partition = this.options.partition ?? 0;
    const events: (TrackedEvent | undefined)[] = batch.records.map((r) => this.decode(r.payload));
    const ads = new Set<number>();
    for (const event of events) if (event !== undefined && event.outcome !== 'unknown_ad') ads.add(event.ad);
    if (ads.size > 0) await this.owners.prepare(ads);
    for (let i = 0; i < batch.records.length; i++) {
      const event = events[i];
      if (event === undefined) continue;
      const record = batch.records[i]!;
      const owner = this.owners.ownerOf(event.ad);
      const row: ArchivedEvent = {
        type: event.type,
        ad: event.ad,
        imp: event.imp,
        tokenTs: event.tokenTs,
        eventTime: event.eventTime,
        receivedAt: event.receivedAt,
        outcome: event.outcome,
        ipHash: event.ipHash,
        userAgent: event.userAgent,
        source: event.source,
        partition,
        offset: record.offset,
        campaign: owner?.campaign,
        advertiser: owner?.advertiser,
        origin: record.origin,
      };
      const hour = hourOf(event.eventTime);
      let rows = this.hours.get(hour);
      if (rows === undefined) this.hours.set(hour, (rows = []));
      rows.push(row);
      this.bufferedBytes += record.payload.length + ROW_OVERHEAD_BYTES;
      if (this.maxEventTime === undefined || event.eventTime > this.maxEventTime) {
        this.maxEventTime = event.eventTime;
      }
    }
    this.offset = batch.next;
    this.options.metrics.bufferedBytes.set({ partition: this.label }, this.bufferedBytes);
    return batch.records.length;
  }

  private decode(payload: Buffer): TrackedEvent | undefined {
    try {
      return decodeEvent(payload);
    } catch (err) {
      if (!(err instanceof EventDecodeError)) throw err;
      // Intact (CRC-checked) but not an event this build reads: nothing to archive.
      this.options.metrics.undecodableRecords.inc();
      return undefined;
    }
  }

  /**
   * Writes one file per buffered hour, then commits the position after
   * everything read. Before writing an hour, files of this partition there
   * that no commit covers are deleted (a zombie owner's or an earlier failed
   * attempt's), so the new file is the only one with those rows.
   */
  private async roll(): Promise<void> {
    const { root, partition, writer, store, consumer, metrics } = this.options;
    const started = process.hrtime.bigint();
    const written: WrittenFile[] = [];
    const hours = [...this.hours.keys()].sort((a, b) => a - b);
    try {
      for (const hour of hours) {
        const rows = this.hours.get(hour)!;
        const dir = hourDir(root, hour);
        await removeUncommittedIn(dir, partition, this.committed.offset);
        const name = archiveFileName({
          partition,
          first: rows[0]!.offset,
          last: rows[rows.length - 1]!.offset,
        });
        written.push(await writer.write(join(dir, name), rows));
      }
      const checkpoint = { offset: this.offset, maxEventTime: this.maxEventTime };
      await store.commit(consumer, {
        deltas: [],
        lateDeltas: [],
        dedupAdded: [],
        dedupExpireBefore: undefined,
        checkpoint,
        ...(this.options.epoch === undefined ? {} : { epoch: this.options.epoch }),
      });
      this.committed = checkpoint;
    } catch (err) {
      // A fenced archiver's files hold rows the new owner archives: take them back, best effort.
      if (err instanceof FencedCommitError) {
        await Promise.all(written.map((file) => removeFile(file.path)));
      }
      throw err;
    }
    for (const file of written) {
      metrics.events.inc(file.rows);
      metrics.files.inc();
      metrics.bytes.inc(file.bytes);
    }
    metrics.rollLatency.observe(Number(process.hrtime.bigint() - started) / 1e9);
    this.failure = undefined;
    this.retryDelay = this.options.retryDelayMs ?? 1_000;
    this.dropBuffer();
    this.waiters.settle(this.committed.offset);
  }

  /** Sleeps `ms`, or less when stopped meanwhile. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }

  private dropBuffer(): void {
    this.hours = new Map();
    this.bufferedBytes = 0;
    this.lastRoll = this.now();
    this.options.metrics.bufferedBytes.set({ partition: this.label }, 0);
  }

  private rejectWaiters(err: Error): void {
    this.waiters.end(this.committed.offset, err);
  }

  private print(line: string): void {
    (this.options.print ?? ((l: string) => console.error(l)))(
      `adtally: archiver (${this.options.consumer}): ${line}`,
    );
  }
}

async function removeFile(path: string): Promise<void> {
  await rm(path, { force: true }).catch(() => undefined);
}
