import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { makeDataDir, removeDir, runCli } from './support/adtally-process.js';

const NUMBER_KEYS = [
  'baseline_rps',
  'ingest_rps',
  'ingest_ratio',
  'click_p99_ms_at_10k',
  'freshness_p99_ms',
  'query_p99_ms',
  'aggregate_eps_per_core',
  'direct_db_failure_rate',
  'adtally_failure_rate',
  'reconcile_s_per_million',
];
/** ingest-wrk's keys: numbers wherever wrk is installed or can be (CI is root); else the skip says why. */
const WRK_KEYS = ['baseline_rps_wrk', 'ingest_rps_wrk', 'ingest_ratio_wrk'];

function wrkInstallable(): boolean {
  return process.getuid?.() === 0 || spawnSync('wrk', ['--version']).error === undefined;
}

describe('adtally bench', () => {
  const dir = makeDataDir('adtally-bench-test-');
  after(() => removeDir(dir));

  it('--quick with a tiny duration runs every scenario and writes a result with every key', async () => {
    const docs = join(dir, 'docs', 'BENCHMARKS.md');
    const run = await runCli([
      'bench',
      '--quick',
      '--duration',
      '400ms',
      '--results-dir',
      join(dir, 'results'),
      '--docs',
      docs,
    ]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const files = readdirSync(join(dir, 'results'));
    assert.equal(files.length, 1);
    assert.match(
      files[0]!,
      /^\d{4}-\d{2}-\d{2}-[0-9a-f]+-quick\.json$|^\d{4}-\d{2}-\d{2}-unknown-quick\.json$/,
    );
    const result = JSON.parse(readFileSync(join(dir, 'results', files[0]!), 'utf8')) as Record<
      string,
      unknown
    >;
    for (const key of NUMBER_KEYS) {
      assert.equal(typeof result[key], 'number', key);
      assert.ok(Number.isFinite(result[key]), key);
    }
    assert.equal(typeof result.exact, 'boolean');
    assert.ok((result.baseline_rps as number) > 0 && (result.ingest_rps as number) > 0);
    const report = readFileSync(docs, 'utf8');
    assert.match(report, /\| ingest-max: durable clicks\/s/);
    const wrk = (result.scenarios as { wrk?: { skipped?: string; ingest?: { validClicks: number }[] } }).wrk;
    if (wrkInstallable()) {
      assert.equal(wrk?.skipped, undefined, 'ingest-wrk ran');
      for (const key of WRK_KEYS) {
        assert.equal(typeof result[key], 'number', key);
        assert.ok((result[key] as number) > 0, key);
      }
      assert.ok(wrk!.ingest![0]!.validClicks > 0, 'the signed paths are valid clicks to adtally');
      assert.equal(run.stderr.match(/signed click paths/g)?.length, 1, 'one file signed for both servers');
      assert.match(report, /\| ingest-max \(wrk\): [^|]+\| bare [\d,]+ req\/s, adtally [\d,]+ clicks\/s \|/);
      assert.match(report, /Why the two ingest-max ratios differ: /);
    } else {
      for (const key of WRK_KEYS) assert.equal(result[key], null, key);
      assert.match(report, /\| ingest-max \(wrk\): [^|]+\| skipped: .+\|/);
    }
    assert.match(report, /!\[p99 latency against offered rate\]\(benchmarks-latency\.svg\)/);
    assert.match(readFileSync(join(dir, 'docs', 'benchmarks-latency.svg'), 'utf8'), /^<svg/);
    assert.match(run.stdout, /"ingest_ratio"/);

    const again = join(dir, 'again', 'BENCHMARKS.md');
    const rewrite = await runCli([
      'bench',
      '--report-from',
      join(dir, 'results', files[0]!),
      '--docs',
      again,
    ]);
    assert.equal(rewrite.code, 0, rewrite.stderr);
    assert.equal(readFileSync(again, 'utf8'), report, 'the same report from the saved result');
  });

  it('--mode cluster --quick measures collectors, freshness and worker drains on a local cluster', async () => {
    const results = join(dir, 'cluster-results');
    const docs = join(dir, 'docs', 'BENCHMARKS-CLUSTER.md');
    const run = await runCli([
      'bench',
      '--mode',
      'cluster',
      '--quick',
      '--duration',
      '1s',
      '--only',
      'ingest,latency,freshness,aggregate',
      '--results-dir',
      results,
      '--docs',
      docs,
    ]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const files = readdirSync(results);
    assert.equal(files.length, 1);
    assert.match(files[0]!, /-cluster-quick\.json$/);
    const result = JSON.parse(readFileSync(join(results, files[0]!), 'utf8')) as Record<string, unknown>;
    assert.equal(result.mode, 'cluster');
    const numbers = ['freshness_p99_ms', 'worker_eps_1', 'worker_eps_per_worker_2', 'click_p99_ms_at_rate'];
    if (wrkInstallable()) numbers.push('collector_clicks_per_s', 'collector_ratio', 'baseline_rps_wrk');
    for (const key of numbers) {
      assert.equal(typeof result[key], 'number', key);
      assert.ok((result[key] as number) > 0, key);
    }
    const drains = (
      result.scenarios as { aggregate: { runs: { drain: { perWorker: { events: number }[] } }[] } }
    ).aggregate.runs.map((r) => r.drain);
    assert.deepEqual(
      drains.map((d) => d.perWorker.length),
      [1, 2],
    );
    for (const d of drains)
      assert.ok(
        d.perWorker.every((w) => w.events > 0),
        'every worker aggregated',
      );
    const report = readFileSync(docs, 'utf8');
    assert.match(report, /^# Benchmarks: the distributed mode/);
    assert.match(report, /\| aggregate: pre-filled topic drained by 1 worker \| [\d,]+ events\/s/);
    const again = join(dir, 'again', 'BENCHMARKS-CLUSTER.md');
    const rewrite = await runCli(['bench', '--report-from', join(results, files[0]!), '--docs', again]);
    assert.equal(rewrite.code, 0, rewrite.stderr);
    assert.equal(readFileSync(again, 'utf8'), report, 'the same report from the saved result');
  });

  it('rejects bad options with exit status 2', async () => {
    for (const [args, reason] of [
      [['--only', 'warp'], /unknown scenario "warp"/],
      [['--runs', '0'], /--runs/],
      [['--duration', 'soon'], /--duration/],
      [['--database-url', 'mysql://x'], /--database-url/],
      [['--report-from', '/nonexistent.json'], /cannot read/],
      [['--mode', 'warp'], /--mode: "warp" is not serve or cluster/],
      [['--mode', 'cluster', '--only', 'baseline'], /unknown cluster scenario "baseline"/],
    ] as const) {
      const run = await runCli(['bench', ...args]);
      assert.equal(run.code, 2, args.join(' '));
      assert.match(run.stderr, reason);
    }
  });
});
