import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The figures the capacity plan rests on, each as `adtally bench` last
 * measured it (bench/results/*.json), never a number typed in by hand: a
 * figure no result holds yet is absent, and the plan says so.
 */
export const FIGURE_NAMES = [
  'serve_clicks_per_s',
  'serve_click_p99_ms',
  'serve_freshness_p99_ms',
  'serve_query_p99_ms',
  'serve_query_rate',
  'aggregate_eps_per_core',
  'collector_clicks_per_s',
  'worker_eps',
  'cluster_freshness_p99_ms',
  'archive_bytes_per_event',
  'archive_eps',
  'dedup_bytes_per_entry',
  'store_bytes_per_minute_row',
] as const;
export type FigureName = (typeof FIGURE_NAMES)[number];

export const FIGURE_MEANING: Readonly<Record<FigureName, string>> = {
  serve_clicks_per_s: 'durable clicks/s one `adtally serve` answers (fsync before 302, aggregation running)',
  serve_click_p99_ms: 'click p99 (ms) of `serve` at 10,000 clicks/s',
  serve_freshness_p99_ms: 'click-to-queryable p99 (ms) of `serve`',
  serve_query_p99_ms: '24 h minute series p99 (ms) of `serve` under 10,000 clicks/s',
  serve_query_rate: 'queries/s that series p99 was measured at',
  aggregate_eps_per_core: 'events aggregated per CPU-second (one core)',
  collector_clicks_per_s: 'durable clicks/s one `adtally collector` answers on Kafka',
  worker_eps: 'events/s one `adtally worker` aggregates from Kafka',
  cluster_freshness_p99_ms: 'click-to-queryable p99 (ms) through Kafka',
  archive_bytes_per_event: 'Parquet bytes per archived event',
  archive_eps: 'events/s the archiver writes to Parquet',
  dedup_bytes_per_entry: 'Redis bytes per (kind, ad, imp) dedup entry',
  store_bytes_per_minute_row: 'serving store bytes per stored (ad, minute) row',
};

export interface Figure {
  readonly value: number;
  /** The results file it was read from, and the commit and date it records. */
  readonly file: string;
  readonly commit: string;
  readonly date: string;
}

export type MeasuredFigures = Partial<Record<FigureName, Figure>>;

type Result = Record<string, unknown>;
const text = (v: unknown): string => (typeof v === 'string' ? v : '?');
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Where each figure sits in a results file of the embedded bench or of `--mode cluster`. */
const READERS: Readonly<Record<FigureName, (r: Result) => number | undefined>> = {
  serve_clicks_per_s: (r) => (r.mode === undefined ? num(r.ingest_rps) : undefined),
  serve_click_p99_ms: (r) => num(r.click_p99_ms_at_10k),
  serve_freshness_p99_ms: (r) => (r.mode === undefined ? num(r.freshness_p99_ms) : undefined),
  serve_query_p99_ms: (r) => num(r.query_p99_ms),
  serve_query_rate: (r) => {
    const runs = (r.scenarios as Result | undefined)?.query;
    const first = Array.isArray(runs) ? (runs[0] as Result | undefined) : undefined;
    return num((first?.queries as Result | undefined)?.answeredPerSecond);
  },
  aggregate_eps_per_core: (r) => num(r.aggregate_eps_per_core),
  collector_clicks_per_s: (r) => num(r.collector_clicks_per_s),
  worker_eps: (r) => num(r.worker_eps_1),
  cluster_freshness_p99_ms: (r) => (r.mode === 'cluster' ? num(r.freshness_p99_ms) : undefined),
  archive_bytes_per_event: (r) => num(r.archive_bytes_per_event),
  archive_eps: (r) => num(r.archive_eps),
  dedup_bytes_per_entry: (r) => num(r.dedup_bytes_per_entry),
  store_bytes_per_minute_row: (r) => num(r.store_bytes_per_minute_row),
};

/** Each figure from the newest result (by its recorded date) that holds it. */
export function figuresFrom(results: readonly { file: string; result: Result }[]): MeasuredFigures {
  const newestFirst = [...results].sort((a, b) => text(b.result.date).localeCompare(text(a.result.date)));
  const figures: MeasuredFigures = {};
  for (const name of FIGURE_NAMES) {
    for (const { file, result } of newestFirst) {
      const value = READERS[name](result);
      if (value === undefined) continue;
      figures[name] = { value, file, commit: text(result.commit), date: text(result.date) };
      break;
    }
  }
  return figures;
}

/** Reads every bench/results/*.json under `dir`; a file that is not JSON is named in the error. */
export async function readMeasuredFigures(dir: string): Promise<MeasuredFigures> {
  const names = (await readdir(dir).catch(() => [])).filter((n) => n.endsWith('.json')).sort();
  const results = await Promise.all(
    names.map(async (file) => {
      const text = await readFile(join(dir, file), 'utf8');
      try {
        return { file, result: JSON.parse(text) as Result };
      } catch (err) {
        throw new Error(`${join(dir, file)} is not JSON: ${(err as Error).message}`);
      }
    }),
  );
  return figuresFrom(results);
}
