import { encodeEvent, type TrackedEvent } from '../domain/event.js';
import { seededRandom, zipfSampler } from '../domain/seeded-random.js';
import { openKafkaEventAppender } from '../log/kafka/kafka-event-appender.js';
import type { LogPosition } from '../log/event-log.js';
import { BenchCluster, cpuSeconds, metricValue } from './bench-cluster.js';
import type { ClusterContext } from './cluster-collectors.js';
import { AD_COUNT, sleep } from './scenarios.js';

/** What a fill wrote: the topic's partitions' end offsets and how the top ad was spread. */
export interface FillResult {
  readonly topic: string;
  readonly events: number;
  /** 0 is uniform; 1.4 makes the top ad of 100 about 38 % of the traffic. */
  readonly zipf: number;
  /** The `spread` of the URL, or undefined for the appender's default (salting on). */
  readonly spread: number | undefined;
  /** Events per partition (the end offsets of a fresh topic). */
  readonly perPartition: number[];
  /** The top ad's events per partition. */
  readonly topAdPerPartition: number[];
  readonly seconds: number;
}

const IP_HASH = Buffer.alloc(8, 7);
const CHUNK = 2_000;

/**
 * Pre-fills a fresh topic with `events` valid events (an impression then a
 * click on each fresh impression id, ads chosen by Zipf(`zipf`)) through the
 * collectors' own appender (acks=all, idempotent, the same partitioner and
 * hot-ad detector), not HTTP: this measures the workers, not the collectors.
 * The detector runs on a virtual clock at `collectorRate` events/s, so an ad
 * is hot exactly when one collector receiving that rate would find it hot.
 */
export async function fillTopic(
  ctx: ClusterContext,
  topic: string,
  traffic: { events: number; zipf: number; spread?: number },
): Promise<FillResult> {
  const { plan } = ctx;
  let virtualNow = 0;
  const appender = await openKafkaEventAppender({
    bootstrap: [ctx.broker.bootstrap],
    topic,
    partitions: plan.partitions,
    ...(traffic.spread === undefined ? {} : { hotSpread: traffic.spread }),
    hotAds: { now: () => virtualNow },
    clientId: 'adtally-bench-fill',
  });
  const random = seededRandom(11);
  const pickAd = zipfSampler(AD_COUNT, traffic.zipf, random);
  const perPartition = new Array<number>(plan.partitions).fill(0);
  const topAdPerPartition = new Array<number>(plan.partitions).fill(0);
  const spanMs = (traffic.events * 1_000) / plan.fillCollectorRate;
  const startMs = Date.now() - spanMs - 1_000;
  const started = performance.now();
  try {
    let ad = 1;
    let imp = '';
    for (let i = 0; i < traffic.events;) {
      const appends: Promise<LogPosition>[] = [];
      const ofAd: number[] = [];
      for (const end = Math.min(traffic.events, i + CHUNK); i < end; i++) {
        if (i % 2 === 0) {
          ad = 1 + pickAd();
          imp = `f${i.toString(36).padStart(9, '0')}`;
        }
        virtualNow = (i * 1_000) / plan.fillCollectorRate;
        const eventTime = Math.floor(startMs + virtualNow);
        const event: TrackedEvent = {
          type: i % 2 === 0 ? 'impression' : 'click',
          ad,
          imp,
          tokenTs: Math.floor(eventTime / 1_000) - 1,
          eventTime,
          receivedAt: eventTime,
          outcome: 'ok',
          ipHash: IP_HASH,
          userAgent: 'browser',
          source: 'get',
        };
        appends.push(appender.append(encodeEvent(event), { ad, imp }));
        ofAd.push(ad);
      }
      const positions = await Promise.all(appends);
      positions.forEach((p, k) => {
        perPartition[p.partition]!++;
        if (ofAd[k] === 1) topAdPerPartition[p.partition]!++;
      });
    }
  } finally {
    await appender.close();
  }
  return {
    topic,
    events: traffic.events,
    zipf: traffic.zipf,
    spread: traffic.spread,
    perPartition,
    topAdPerPartition,
    seconds: (performance.now() - started) / 1_000,
  };
}

/** One worker of a drain: what it aggregated, on what CPU, from which partitions. */
export interface DrainWorker {
  readonly events: number;
  readonly cpuSeconds: number;
  /** Partitions it held (from its lag gauge's labels, before the fill). */
  readonly partitions: number[];
}

export interface DrainRun {
  readonly workers: number;
  readonly events: number;
  /** From SIGCONT to every partition's checkpoint at its end (consumer lag 0). */
  readonly seconds: number;
  readonly eventsPerSecond: number;
  /** eventsPerSecond over the workers. */
  readonly eventsPerWorkerPerSecond: number;
  /** Events over the workers' CPU seconds (Redis and PostgreSQL, shared, are not counted). */
  readonly eventsPerWorkerCpuSecond: number;
  readonly perWorker: DrainWorker[];
}

/** The partitions a worker holds now, from its lag gauge's labels. */
async function heldPartitions(url: string): Promise<number[]> {
  const text = await (await fetch(new URL('/metrics', url))).text();
  return [...text.matchAll(/^adtally_kafka_consumer_lag_records\{partition="(\d+)"\}/gm)]
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/**
 * Starts an api (the store's schema) and `workers` workers on a fresh
 * database, Redis prefix and topic; once the group has settled (every
 * partition held, every worker holding some) the workers are stopped
 * (SIGSTOP, within a 60 s session timeout), the topic is filled, and the
 * workers continued (SIGCONT): the drain is timed from there until every
 * partition's checkpoint in the store reaches the partition's end, so
 * neither process start nor group join nor a rebalance is in the figure.
 */
export async function fillAndDrain(
  ctx: ClusterContext,
  traffic: { events: number; zipf: number; spread?: number },
  workers: number,
): Promise<{ fill: FillResult; drain: DrainRun }> {
  const { partitions } = ctx.plan;
  const cluster = await BenchCluster.open(ctx.broker, ctx.dir, {
    partitions,
    ...(traffic.spread === undefined ? {} : { spread: traffic.spread }),
  });
  try {
    await cluster.spawn('api');
    const args = ['--group', `bench-${cluster.id}`, '--session-timeout', '60s'];
    const started = await Promise.all(Array.from({ length: workers }, () => cluster.spawn('worker', args)));
    let held: number[][] = [];
    const settleBy = performance.now() + 60_000;
    for (;;) {
      held = await Promise.all(started.map((w) => heldPartitions(w.url)));
      const all = new Set(held.flat());
      if (all.size === partitions && held.every((h) => h.length > 0)) break;
      if (performance.now() > settleBy)
        throw new Error(`the group never settled: held ${JSON.stringify(held)}`);
      await sleep(100);
    }
    for (const w of started) w.signal('SIGSTOP');
    let fill: FillResult;
    try {
      fill = await fillTopic(ctx, cluster.topic, traffic);
    } finally {
      for (const w of started) w.signal('SIGCONT');
    }
    const t0 = performance.now();
    const pids = started.map((w) => w.child.pid!);
    // Read right after SIGCONT: the stopped processes used no CPU during the fill.
    const cpuBefore = pids.map(cpuSeconds);
    const deadline = t0 + Math.max(120_000, fill.events / 2);
    for (;;) {
      const offsets = await cluster.checkpoints();
      if (fill.perPartition.every((end, p) => end === 0 || (offsets.get(p) ?? 0) >= end)) break;
      if (performance.now() > deadline) {
        throw new Error(
          `drain of ${fill.topic} by ${workers} worker(s) not done after ${Math.round((deadline - t0) / 1000)} s: ` +
            `checkpoints ${JSON.stringify([...offsets])}, ends ${JSON.stringify(fill.perPartition)}`,
        );
      }
      await sleep(20);
    }
    const seconds = (performance.now() - t0) / 1_000;
    const cpu = pids.map((pid, i) => cpuSeconds(pid) - cpuBefore[i]!);
    const perWorker = await Promise.all(
      started.map(async (w, i): Promise<DrainWorker> => ({
        events: await metricValue(w.url, 'adtally_aggregated_events_total'),
        cpuSeconds: cpu[i]!,
        partitions: held[i]!,
      })),
    );
    const totalCpu = cpu.reduce((a, b) => a + b, 0);
    const drain: DrainRun = {
      workers,
      events: fill.events,
      seconds,
      eventsPerSecond: fill.events / seconds,
      eventsPerWorkerPerSecond: fill.events / seconds / workers,
      eventsPerWorkerCpuSecond: totalCpu === 0 ? 0 : fill.events / totalCpu,
      perWorker,
    };
    return { fill, drain };
  } finally {
    await cluster.stop();
  }
}

export interface AggregateScenario {
  readonly runs: { readonly fill: FillResult; readonly drain: DrainRun }[];
}

const describeDrain = (d: DrainRun): string =>
  `${d.workers} worker(s): ${Math.round(d.eventsPerSecond)} events/s (${Math.round(d.eventsPerWorkerPerSecond)} per worker, ` +
  `${Math.round(d.eventsPerWorkerCpuSecond)} per worker CPU-second) in ${d.seconds.toFixed(1)} s; ` +
  `per worker ${d.perWorker.map((w) => `${w.events} events on [${w.partitions.join(',')}]`).join(', ')}`;

/** `aggregate`: uniform traffic pre-filled and drained by 1 worker, then (a fresh topic) by 2. */
export async function aggregateScenario(ctx: ClusterContext): Promise<AggregateScenario> {
  const runs: AggregateScenario['runs'] = [];
  for (const workers of [1, 2]) {
    const run = await fillAndDrain(ctx, { events: ctx.plan.aggregateEvents, zipf: 0 }, workers);
    ctx.progress(
      `aggregate: ${run.fill.events} events appended in ${run.fill.seconds.toFixed(1)} s; ${describeDrain(run.drain)}`,
    );
    runs.push(run);
    await sleep(ctx.plan.settleMs);
  }
  return { runs };
}

export interface HotAdsVariant {
  readonly name: string;
  readonly fill: FillResult;
  readonly drain: DrainRun;
}

/**
 * `hot-ads`: uniform traffic, then Zipf 1.4 with salting on (the default
 * spread) and off (spread=1), each a fresh topic drained by 2 workers.
 * Uniform traffic has no hot ad at the fill's collector rate, so salting
 * changes nothing there and it is run once.
 */
export async function hotAdsScenario(ctx: ClusterContext): Promise<HotAdsVariant[]> {
  const variants = [
    { name: 'uniform', zipf: 0 },
    { name: 'zipf 1.4, salted', zipf: 1.4 },
    { name: 'zipf 1.4, spread=1', zipf: 1.4, spread: 1 },
  ];
  const out: HotAdsVariant[] = [];
  for (const v of variants) {
    const { fill, drain } = await fillAndDrain(
      ctx,
      { events: ctx.plan.hotEvents, zipf: v.zipf, ...(v.spread === undefined ? {} : { spread: v.spread }) },
      2,
    );
    ctx.progress(
      `hot-ads ${v.name}: per partition [${fill.perPartition.join(', ')}], top ad [${fill.topAdPerPartition.join(', ')}]; ${describeDrain(drain)}`,
    );
    out.push({ name: v.name, fill, drain });
    await sleep(ctx.plan.settleMs);
  }
  return out;
}
