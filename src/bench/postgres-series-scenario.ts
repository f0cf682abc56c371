import { loadavg } from 'node:os';
import { COUNT_FIELDS, emptyCounts } from '../aggregate/counts.js';
import { minuteOf } from '../aggregate/minute.js';
import { LatencyHistogram } from '../loadgen/latency-histogram.js';
import { runOpenLoop } from '../loadgen/rate-driver.js';
import type { MinuteDelta } from '../store/aggregate-store.js';
import { createFreshDatabase, serverReachable } from '../store/postgres/fresh-test-database.js';
import { COLUMNS } from '../store/postgres/postgres-aggregate-schema.js';
import { PostgresAggregateStore } from '../store/postgres/postgres-aggregate-store.js';
import { PostgresDatabase } from '../store/postgres/postgres-database.js';
import type { BenchContext } from './scenarios.js';

/** Commits per second and cells per commit of the background writer (about 10,000 clicks/s spread out). */
const WRITER_COMMITS_PER_SECOND = 10;
const WRITER_CELLS = 1_000;

export interface PostgresSeriesRun {
  readonly ads: number;
  readonly minutes: number;
  readonly seedSeconds: number;
  readonly queries: {
    sent: number;
    answered: number;
    failed: number;
    p50: number;
    p99: number;
    p999: number;
    max: number;
  };
  /** The same query one at a time, no writer: its cost without queueing. */
  readonly serial: { p50: number; p99: number };
  /** The machine's 1-minute load average before and after the run (it is shared: see the report). */
  readonly loadAverage: readonly [number, number];
  readonly writerCommits: number;
  readonly writerFailures: number;
  readonly writerCommitP99: number;
  /** agg_minute's day partitions after seeding: rows, and bytes per row of heap, of its indexes, of both. */
  readonly rows: number;
  readonly heapBytesPerRow: number;
  readonly indexBytesPerRow: number;
  readonly totalBytesPerRow: number;
}

export type PostgresSeriesResult = { readonly skipped: string } | { readonly runs: PostgresSeriesRun[] };

/**
 * `postgres-series`: the 24-hour minute series of one random ad at 200
 * queries/s, open loop, through PostgresAggregateStore, on a fresh database
 * seeded with `queryAds` ads x `queryMinutes` minutes ending now (so over two
 * day partitions), written minute by minute as workers write it (one ad's
 * rows scattered over the heap: the realistic layout, not a clustered one).
 * Meanwhile a writer commits 10 times a second. Latency counts from when
 * each query was due. Skipped, with the reason, when the server is down.
 */
export async function postgresSeries(ctx: BenchContext): Promise<PostgresSeriesResult> {
  const down = await serverReachable(ctx.databaseUrl);
  if (down !== undefined) {
    const skipped = `PostgreSQL at ${ctx.databaseUrl} not reachable (${down}): postgres-series skipped`;
    ctx.progress(skipped);
    return { skipped };
  }
  const { plan } = ctx;
  const database = await createFreshDatabase('bench_series', ctx.databaseUrl);
  try {
    const lastMinute = minuteOf(Date.now());
    const firstMinute = lastMinute + 1 - plan.queryMinutes;
    const seeding = performance.now();
    // Bulk statements run longer than the serving pool's statement timeout allows.
    const seeder = await PostgresDatabase.open(`${database.url}?statement_timeout_ms=1800000`);
    const size = await seed(seeder, plan.queryAds, firstMinute, lastMinute).finally(() => seeder.close());
    const seedSeconds = (performance.now() - seeding) / 1000;
    const db = await PostgresDatabase.open(database.url);
    try {
      const store = await PostgresAggregateStore.create(db);
      ctx.progress(
        `postgres-series: seeded ${plan.queryAds} ads x ${plan.queryMinutes} minutes in ${seedSeconds.toFixed(0)} s, ` +
          `${size.totalBytesPerRow.toFixed(1)} bytes a row (heap ${size.heapBytesPerRow.toFixed(1)}, indexes ${size.indexBytesPerRow.toFixed(1)})`,
      );
      const runs: PostgresSeriesRun[] = [];
      for (let run = 1; run <= plan.runs; run++) {
        const loadBefore = loadavg()[0]!;
        const serial = await measureSerial(store, plan, firstMinute, lastMinute);
        const measured = await measure(store, plan, firstMinute, lastMinute);
        const loadAverage = [loadBefore, loadavg()[0]!] as const;
        ctx.progress(
          `postgres-series run ${run}: one at a time p50 ${serial.p50.toFixed(2)} ms, p99 ${serial.p99.toFixed(2)} ms; ` +
            `load average ${loadAverage.map((l) => l.toFixed(1)).join(' -> ')}; at ${plan.queryRate}/s p50 ${measured.queries.p50.toFixed(2)} ms, p99 ${measured.queries.p99.toFixed(2)} ms ` +
            `(${measured.queries.answered} queries, ${measured.queries.failed} failed) with ${measured.writerCommits} commits ` +
            `of ${WRITER_CELLS} cells, commit p99 ${measured.writerCommitP99.toFixed(1)} ms, ${measured.writerFailures} failed`,
        );
        runs.push({
          ads: plan.queryAds,
          minutes: plan.queryMinutes,
          seedSeconds,
          serial,
          loadAverage,
          ...measured,
          ...size,
        });
      }
      return { runs };
    } finally {
      await db.close();
    }
  } finally {
    await database.drop();
  }
}

/**
 * Set-based inserts, minute-major (time order), the counts of seed-store.ts's
 * DuckDB data set; then VACUUM ANALYZE, as autovacuum would have done to
 * rows a day old (hint bits set, statistics known). Returns the sizes.
 */
async function seed(
  db: PostgresDatabase,
  ads: number,
  firstMinute: number,
  lastMinute: number,
): Promise<Pick<PostgresSeriesRun, 'rows' | 'heapBytesPerRow' | 'indexBytesPerRow' | 'totalBytesPerRow'>> {
  const store = await PostgresAggregateStore.create(db);
  // Creates the day partitions the range needs, through the store's own path.
  const zero = (minute: number): MinuteDelta => ({ ad: 1, minute, counts: emptyCounts() });
  await store.replaceCounts([zero(firstMinute), zero(lastMinute)]);
  const values = COUNT_FIELDS.map((f) =>
    f === 'impressions' ? '(a * 7 + m) % 50' : f === 'clicks' ? '(a + m) % 3' : '0',
  );
  const chunk = 10;
  for (let from = firstMinute; from <= lastMinute; from += chunk) {
    await db.query(
      `INSERT INTO agg_minute (ad, minute, ${COLUMNS.join(', ')})
       SELECT a, m, ${values.join(', ')}
       FROM generate_series($1::int, $2::int) m, generate_series(1, $3::int) a ORDER BY m, a
       ON CONFLICT (ad, minute) DO NOTHING`,
      [from, Math.min(from + chunk - 1, lastMinute), ads],
    );
  }
  await db.query('VACUUM (ANALYZE) agg_minute');
  return sizes(db);
}

async function sizes(
  db: PostgresDatabase,
): Promise<{ rows: number; heapBytesPerRow: number; indexBytesPerRow: number; totalBytesPerRow: number }> {
  const [row] = await db.query<{ rows: number; heap: number; total: number }>(
    `SELECT sum(c.reltuples)::float8 AS rows, sum(pg_table_size(c.oid))::float8 AS heap,
            sum(pg_total_relation_size(c.oid))::float8 AS total
     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'agg_minute'::regclass`,
  );
  const [exact] = await db.query<{ n: number }>('SELECT count(*)::float8 AS n FROM agg_minute');
  const rows = exact!.n;
  return {
    rows,
    heapBytesPerRow: row!.heap / rows,
    indexBytesPerRow: (row!.total - row!.heap) / rows,
    totalBytesPerRow: row!.total / rows,
  };
}

async function measureSerial(
  store: PostgresAggregateStore,
  plan: BenchContext['plan'],
  firstMinute: number,
  lastMinute: number,
): Promise<{ p50: number; p99: number }> {
  const latency = new LatencyHistogram();
  for (let i = 0; i < 500; i++) {
    const started = performance.now();
    await store.series([1 + Math.floor(Math.random() * plan.queryAds)], firstMinute, lastMinute + 1, 1);
    latency.record(performance.now() - started);
  }
  return { p50: latency.percentile(50), p99: latency.percentile(99) };
}

async function measure(
  store: PostgresAggregateStore,
  plan: BenchContext['plan'],
  firstMinute: number,
  lastMinute: number,
): Promise<Pick<PostgresSeriesRun, 'queries' | 'writerCommits' | 'writerFailures' | 'writerCommitP99'>> {
  const latency = new LatencyHistogram();
  const commitLatency = new LatencyHistogram();
  let sent = 0;
  let answered = 0;
  let failed = 0;
  let measuring = false;
  let writing = true;
  let writerCommits = 0;
  let writerFailures = 0;
  const writer = (async () => {
    let offset = 0;
    while (writing) {
      const started = performance.now();
      const deltas: MinuteDelta[] = [];
      const seen = new Set<number>();
      while (deltas.length < WRITER_CELLS) {
        const ad = 1 + Math.floor(Math.random() * plan.queryAds);
        if (seen.has(ad)) continue;
        seen.add(ad);
        deltas.push({ ad, minute: lastMinute, counts: { ...emptyCounts(), impressions: 9, clicks: 1 } });
      }
      try {
        await store.commit('bench/0', {
          deltas,
          lateDeltas: [],
          dedupAdded: [],
          dedupExpireBefore: undefined,
          checkpoint: { offset: (offset += WRITER_CELLS * 10), maxEventTime: undefined },
        });
        commitLatency.record(performance.now() - started);
        writerCommits++;
      } catch {
        writerFailures++;
      }
      const wait = 1000 / WRITER_COMMITS_PER_SECOND - (performance.now() - started);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  })();
  const inFlight = new Set<Promise<void>>();
  const fire = (scheduledAt: number): void => {
    const counted = measuring;
    if (counted) sent++;
    const ad = 1 + Math.floor(Math.random() * plan.queryAds);
    const done = store.series([ad], firstMinute, lastMinute + 1, 1).then(
      (rows) => {
        if (!counted) return;
        if (rows.length === plan.queryMinutes) {
          answered++;
          latency.record(performance.now() - scheduledAt);
        } else failed++;
      },
      () => {
        if (counted) failed++;
      },
    );
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  };
  try {
    await runOpenLoop({ ratePerSecond: plan.queryRate, durationMs: plan.warmupMs, fire });
    measuring = true;
    await runOpenLoop({ ratePerSecond: plan.queryRate, durationMs: plan.queryMs, fire });
    await Promise.all(inFlight);
  } finally {
    writing = false;
    await writer;
  }
  return {
    queries: {
      sent,
      answered,
      failed,
      p50: latency.percentile(50),
      p99: latency.percentile(99),
      p999: latency.percentile(99.9),
      max: latency.max,
    },
    writerCommits,
    writerFailures,
    writerCommitP99: commitLatency.percentile(99),
  };
}
