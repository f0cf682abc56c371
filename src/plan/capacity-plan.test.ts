import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PlanInputError, planCapacity, type PlanInputs } from './capacity-plan.js';
import { figuresFrom, type MeasuredFigures } from './measured-figures.js';

const at = (value: number) => ({ value, file: 'r.json', commit: 'c', date: 'd' });

/** Figures of the shape bench/results holds, rounded. */
const FIGURES: MeasuredFigures = {
  serve_clicks_per_s: at(15_000),
  serve_freshness_p99_ms: at(250),
  serve_query_p99_ms: at(40),
  serve_query_rate: at(200),
  aggregate_eps_per_core: at(150_000),
  collector_clicks_per_s: at(7_500),
  worker_eps: at(110_000),
  cluster_freshness_p99_ms: at(400),
  archive_bytes_per_event: at(30),
  dedup_bytes_per_entry: at(170),
  store_bytes_per_minute_row: at(50),
};

const BASE: PlanInputs = {
  eventsPerSecond: 1_000,
  peakEventsPerSecond: 3_000,
  payloadBytes: 120,
  activeAds: 10_000,
  hotAdShare: 0.01,
  queriesPerSecond: 10,
  freshnessTargetMs: 1_000,
  retentionRawDays: 90,
  retentionAggregateDays: 400,
  availability: 0.99,
};

describe('planCapacity', () => {
  const cases: {
    name: string;
    inputs: Partial<PlanInputs>;
    shape: 'single' | 'cluster';
    processes?: Partial<ReturnType<typeof planCapacity>['processes']>;
    because: RegExp;
    figure?: string;
  }[] = [
    { name: 'a small load is one serve', inputs: {}, shape: 'single', because: /fits one process/ },
    {
      name: 'a peak over 70% of one serve needs collectors',
      inputs: { peakEventsPerSecond: 10_600 },
      shape: 'cluster',
      processes: { collectors: 3, workers: 1 },
      because: /over 70% of one serve's 15,000 durable clicks\/s/,
      figure: 'serve_clicks_per_s',
    },
    {
      name: 'a peak just under 70% of one serve stays single',
      inputs: { peakEventsPerSecond: 10_400 },
      shape: 'single',
      because: /fits one process/,
    },
    {
      name: 'availability above 99% runs two of each process whatever the load',
      inputs: { availability: 0.999 },
      shape: 'cluster',
      processes: { collectors: 2, workers: 2, apis: 2, partitions: 4 },
      because: /every restart of a single process is downtime/,
    },
    {
      name: "workers follow the peak over one worker's measured rate",
      inputs: { eventsPerSecond: 100_000, peakEventsPerSecond: 300_000 },
      shape: 'cluster',
      processes: { collectors: 58, workers: 4, partitions: 8 },
      because: /over 70% of 110,000 events\/s per worker/,
      figure: 'worker_eps',
    },
    {
      name: "a hot ad over one partition's worker is spread",
      inputs: { eventsPerSecond: 100_000, peakEventsPerSecond: 300_000, hotAdShare: 0.8 },
      shape: 'cluster',
      processes: { spread: 4, partitions: 8 },
      because: /its 240,000 events\/s at peak are over 70%/,
      figure: 'worker_eps',
    },
    {
      name: 'a freshness target under the measured p99 is named as missed',
      inputs: { freshnessTargetMs: 100 },
      shape: 'single',
      because: /freshness target NOT met.*250 ms against a target of 100 ms/,
      figure: 'serve_freshness_p99_ms',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planCapacity({ ...BASE, ...c.inputs }, FIGURES);
      assert.equal(plan.shape, c.shape);
      for (const [key, value] of Object.entries(c.processes ?? {})) {
        assert.equal(plan.processes[key as keyof typeof plan.processes], value, key);
      }
      const step = plan.steps.find((s) => c.because.test(`${s.decision}: ${s.because}`));
      assert.ok(step, `a step matching ${c.because}: ${JSON.stringify(plan.steps, null, 1)}`);
      if (c.figure !== undefined) assert.equal(step.figure, c.figure);
      assert.deepEqual(plan.unmeasured, []);
    });
  }

  it('sizes come from the measured figures and the inputs', () => {
    const plan = planCapacity(BASE, FIGURES);
    assert.equal(plan.sizes.dedupBytes, 1_000 * 86_400 * 170);
    assert.equal(plan.sizes.storeBytes, 10_000 * 1_440 * 400 * 50);
    assert.equal(plan.sizes.archiveBytesPerDay, 1_000 * 86_400 * 30);
    assert.equal(plan.sizes.archiveBytes, 1_000 * 86_400 * 30 * 90);
    assert.equal(plan.sizes.logBytes, 1_000 * 86_400 * 7 * 120);
  });

  it('a figure no result holds leaves its answer unknown and is listed as not measured', () => {
    const { archive_bytes_per_event: _a, collector_clicks_per_s: _c, ...rest } = FIGURES;
    const plan = planCapacity({ ...BASE, availability: 0.999 }, rest);
    assert.equal(plan.sizes.archiveBytesPerDay, undefined);
    assert.deepEqual([...plan.unmeasured].sort(), ['archive_bytes_per_event', 'collector_clicks_per_s']);
    assert.ok(plan.steps.some((s) => /clicks\/s one `adtally collector`.*not measured yet/.test(s.because)));
  });

  it('refuses inputs that are no load', () => {
    assert.throws(() => planCapacity({ ...BASE, eventsPerSecond: 0 }, FIGURES), PlanInputError);
    assert.throws(
      () => planCapacity({ ...BASE, peakEventsPerSecond: 10 }, FIGURES),
      /at least eventsPerSecond/,
    );
    assert.throws(() => planCapacity({ ...BASE, hotAdShare: 2 }, FIGURES), /hotAdShare/);
    assert.throws(() => planCapacity({ ...BASE, availability: 1 }, FIGURES), /availability/);
  });
});

describe('figuresFrom (bench/results)', () => {
  it('takes each figure from the newest result that holds it, embedded and cluster apart', () => {
    const figures = figuresFrom([
      {
        file: 'old.json',
        result: { date: '2026-01-01', commit: 'a', ingest_rps: 10, freshness_p99_ms: 300 },
      },
      {
        file: 'new.json',
        result: { date: '2026-02-01', commit: 'b', ingest_rps: null, freshness_p99_ms: 200 },
      },
      {
        file: 'cluster.json',
        result: { date: '2026-03-01', commit: 'c', mode: 'cluster', freshness_p99_ms: 900, worker_eps_1: 5 },
      },
    ]);
    assert.deepEqual(figures.serve_clicks_per_s, {
      value: 10,
      file: 'old.json',
      commit: 'a',
      date: '2026-01-01',
    });
    assert.equal(figures.serve_freshness_p99_ms?.value, 200);
    assert.equal(figures.cluster_freshness_p99_ms?.value, 900);
    assert.equal(figures.worker_eps?.value, 5);
    assert.equal(figures.archive_bytes_per_event, undefined);
  });
});
