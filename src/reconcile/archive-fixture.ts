import { mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance, DuckDBTimestampValue, type DuckDBAppender } from '@duckdb/node-api';
import { addCounts, emptyCounts } from '../aggregate/counts.js';
import { MinuteAggregator } from '../aggregate/minute-aggregator.js';
import { archiveTableDdl, type ArchivedEvent } from '../archive/archive-schema.js';
import { archiveFileName, hourDir, hourOf, TMP_SUFFIX } from '../archive/archive-layout.js';
import { sqlString } from '../archive/archive-scan.js';
import type { EventType } from '../domain/event.js';
import type { Outcome } from '../domain/outcome.js';
import type { MinuteDelta } from '../store/aggregate-store.js';
import { dedupContextMs, type RecomputedEvent } from './recompute.js';

/*
 * Archive files and event streams made up for reconciliation's tests and its
 * benchmark. The archiver (src/archive/) writes the real files; this writes
 * the same columns in the same layout (archive-schema.ts, archive-layout.ts)
 * through DuckDB's COPY ... TO, so the readers are tested against the format,
 * not against the archiver.
 */

const IP_HASH = Buffer.alloc(8);

/** Rows per Parquet file; an hour of more rows is several files, as the archiver's chunks make. */
const ROWS_PER_FILE = 200_000;

/** Appends one archived event as a row of the staging table, in ARCHIVE_COLUMNS order. */
function appendRow(appender: DuckDBAppender, e: ArchivedEvent): void {
  const text = (v: string | undefined): void =>
    v === undefined ? appender.appendNull() : appender.appendVarchar(v);
  const ts = (ms: number): void =>
    appender.appendTimestamp(new DuckDBTimestampValue(BigInt(Math.round(ms * 1000))));
  appender.appendInteger(e.partition);
  appender.appendBigInt(BigInt(e.offset));
  text(e.type);
  text(e.outcome);
  ts(e.eventTime);
  ts(e.receivedAt);
  appender.appendBigInt(BigInt(e.tokenTs));
  appender.appendBigInt(BigInt(e.ad));
  if (e.campaign === undefined) appender.appendNull();
  else appender.appendBigInt(BigInt(e.campaign));
  if (e.advertiser === undefined) appender.appendNull();
  else appender.appendBigInt(BigInt(e.advertiser));
  text(e.imp);
  text(e.ipHash.toString('hex'));
  text(e.userAgent);
  text(e.source);
  text(e.origin);
  appender.endRow();
}

/**
 * Writes `events` as archive files under `root`: one directory per event
 * hour, files of at most ROWS_PER_FILE rows named by their first and last
 * offsets (the partition in front when `partitioned`), written to `.tmp` and
 * renamed as the archiver does.
 */
export async function writeArchiveFixture(
  root: string,
  events: readonly ArchivedEvent[],
  options: { partitioned?: boolean } = {},
): Promise<void> {
  const groups = new Map<string, ArchivedEvent[]>();
  for (const e of events) {
    const key = `${hourOf(e.eventTime)}|${e.partition}`;
    const group = groups.get(key) ?? groups.set(key, []).get(key)!;
    group.push(e);
  }
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(archiveTableDdl('staged'));
    for (const [key, group] of groups) {
      const hour = Number(key.split('|')[0]);
      group.sort((a, b) => a.offset - b.offset);
      const dir = hourDir(root, hour);
      mkdirSync(dir, { recursive: true });
      for (let start = 0; start < group.length; start += ROWS_PER_FILE) {
        const rows = group.slice(start, start + ROWS_PER_FILE);
        const appender = await connection.createAppender('staged');
        for (const row of rows) appendRow(appender, row);
        appender.flushSync();
        appender.closeSync();
        const name = archiveFileName({
          partition: options.partitioned === true ? rows[0]!.partition : undefined,
          first: rows[0]!.offset,
          last: rows[rows.length - 1]!.offset,
        });
        const path = join(dir, name);
        await connection.run(`COPY staged TO ${sqlString(path + TMP_SUFFIX)} (FORMAT parquet)`);
        renameSync(path + TMP_SUFFIX, path);
        await connection.run('DELETE FROM staged');
      }
    }
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

export interface SyntheticArchiveOptions {
  readonly random: () => number;
  readonly events: number;
  /** Event time of the first event (ms); later ones follow at `stepMs`. */
  readonly startMs: number;
  readonly stepMs: number;
  readonly ads: number;
  /** Log partitions; an ad always goes to partition `ad % partitions`. */
  readonly partitions?: number;
  /** Share of events that repeat an earlier impression (duplicates). */
  readonly repeatRate?: number;
  /** Share of events with an invalid outcome. */
  readonly invalidRate?: number;
  /** Share of batch events whose `at` lies in the past (late, for the stream). */
  readonly lateRate?: number;
  /** Share of records that are a second forwarded copy of an earlier record. */
  readonly copyRate?: number;
}

const INVALID: readonly Outcome[] = ['bad_signature', 'expired', 'bot', 'prefetch', 'unknown_ad'];

/**
 * Events as the log would hold them, in log order per partition: mostly
 * first events of fresh impressions, repeats of recent ones (duplicates, also
 * across minutes), invalid outcomes, batch lines of the past (late for the
 * stream, some in final minutes) and forwarded copies carrying an origin
 * already seen.
 */
export function syntheticArchivedEvents(options: SyntheticArchiveOptions): ArchivedEvent[] {
  const { random, ads } = options;
  const partitions = options.partitions ?? 1;
  const nextOffset = new Array<number>(partitions).fill(0);
  const recent: { type: EventType; ad: number; imp: string; tokenTs: number }[] = [];
  const forwarded: ArchivedEvent[] = [];
  const out: ArchivedEvent[] = [];
  let origins = 0;
  for (let i = 0; i < options.events; i++) {
    const receivedAt = options.startMs + i * options.stepMs;
    if (forwarded.length > 0 && random() < (options.copyRate ?? 0)) {
      const original = forwarded[Math.floor(random() * forwarded.length)]!;
      out.push({ ...original, offset: nextOffset[original.partition]!++ });
      continue;
    }
    let base: { type: EventType; ad: number; imp: string; tokenTs: number };
    if (recent.length > 0 && random() < (options.repeatRate ?? 0.2)) {
      base = recent[Math.floor(random() * recent.length)]!;
      if (random() < 0.5) base = { ...base, type: base.type === 'click' ? 'impression' : 'click' };
    } else {
      base = {
        type: random() < 0.7 ? 'impression' : 'click',
        ad: 1 + Math.floor(random() * ads),
        imp: `imp-${i.toString(36).padStart(8, '0')}`,
        tokenTs: Math.floor(receivedAt / 1000),
      };
      recent.push(base);
      if (recent.length > 500) recent.splice(0, 250);
    }
    const outcome: Outcome =
      random() < (options.invalidRate ?? 0.1) ? INVALID[Math.floor(random() * 5)]! : 'ok';
    const late = random() < (options.lateRate ?? 0);
    const eventTime = late ? receivedAt - Math.floor(random() * 20 * 60_000) : receivedAt;
    const partition = base.ad % partitions;
    const origin = random() < (options.copyRate ?? 0) ? `collector-a/${origins++}` : undefined;
    const event: ArchivedEvent = {
      ...base,
      outcome,
      eventTime,
      receivedAt,
      ipHash: IP_HASH,
      userAgent: 'browser',
      source: late ? 'batch' : 'get',
      partition,
      offset: nextOffset[partition]!++,
      campaign: 1,
      advertiser: 1,
      origin,
    };
    if (origin !== undefined) forwarded.push(event);
    out.push(event);
  }
  return out;
}

export interface StreamCounts {
  /** What the stream put in agg_minute, by `${ad}:${minute}`. */
  readonly serving: Map<string, MinuteDelta>;
  /** What it set apart in agg_late. */
  readonly late: Map<string, MinuteDelta>;
  /** Per partition, the offset after its last applied event and the max event time: its checkpoint. */
  readonly checkpoints: Map<number, { offset: number; maxEventTime: number | undefined }>;
}

function addInto(into: Map<string, MinuteDelta>, deltas: Iterable<MinuteDelta>): void {
  for (const d of deltas) {
    const key = `${d.ad}:${d.minute}`;
    const known = into.get(key);
    if (known === undefined)
      into.set(key, { ad: d.ad, minute: d.minute, counts: addCounts(emptyCounts(), d.counts) });
    else addCounts(known.counts, d.counts);
  }
}

/**
 * What the stream makes of `events`: one MinuteAggregator per partition, as
 * AggregationWorker drives it (each event at its log offset, the watermark
 * moving, late events of final minutes set apart), a forwarded record whose
 * origin was claimed before skipped, as applyClaimed does.
 */
export function streamCounts(
  events: readonly ArchivedEvent[],
  options: { allowedLatenessMs: number; clickTtlMs: number },
): StreamCounts {
  const aggregators = new Map<number, MinuteAggregator>();
  const origins = new Set<string>();
  const checkpoints = new Map<number, { offset: number; maxEventTime: number | undefined }>();
  for (const e of events) {
    let aggregator = aggregators.get(e.partition);
    if (aggregator === undefined) {
      aggregator = new MinuteAggregator(options);
      aggregators.set(e.partition, aggregator);
    }
    checkpoints.set(e.partition, { offset: e.offset + 1, maxEventTime: undefined });
    if (e.origin !== undefined) {
      if (origins.has(e.origin)) continue;
      origins.add(e.origin);
    }
    aggregator.apply(e.offset, e);
  }
  const serving = new Map<string, MinuteDelta>();
  const late = new Map<string, MinuteDelta>();
  for (const [partition, aggregator] of aggregators) {
    const drained = aggregator.drain();
    addInto(serving, drained.deltas.values());
    addInto(late, drained.lateDeltas.values());
    checkpoints.set(partition, {
      offset: checkpoints.get(partition)!.offset,
      maxEventTime: drained.maxEventTime,
    });
  }
  return { serving, late, checkpoints };
}

/** `counts` restricted to minutes in [fromMinute, toMinute). */
export function inMinutes(
  counts: ReadonlyMap<string, MinuteDelta>,
  fromMinute: number,
  toMinute: number,
): Map<string, MinuteDelta> {
  return new Map([...counts].filter(([, d]) => d.minute >= fromMinute && d.minute < toMinute));
}

/**
 * The rows archive-events.ts must select, computed in JS from the events:
 * every row of [from, to), and the valid rows of the dedup context sharing
 * (type, ad, imp) with a valid row of the range, each partition cut below
 * `cuts` (all rows when absent), in log order.
 */
export function expectedSelection(
  events: readonly ArchivedEvent[],
  options: { allowedLatenessMs: number; clickTtlMs: number },
  from: number,
  to: number,
  cuts?: ReadonlyMap<number, number>,
): RecomputedEvent[] {
  const context = dedupContextMs(options);
  const below = events.filter((e) => cuts === undefined || e.offset < (cuts.get(e.partition) ?? 0));
  const inRange = (e: ArchivedEvent): boolean => e.eventTime >= from * 60_000 && e.eventTime < to * 60_000;
  const keys = new Set(
    below.filter((e) => inRange(e) && e.outcome === 'ok').map((e) => `${e.type}|${e.ad}|${e.imp}`),
  );
  return below
    .filter(
      (e) =>
        inRange(e) ||
        (e.outcome === 'ok' &&
          e.eventTime >= from * 60_000 - context &&
          e.eventTime < to * 60_000 + context &&
          keys.has(`${e.type}|${e.ad}|${e.imp}`)),
    )
    .sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}
