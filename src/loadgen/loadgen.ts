import { readFile, writeFile } from 'node:fs/promises';
import { ConfigError } from '../config/settings.js';
import { seededRandom } from '../domain/seeded-random.js';
import { AdminClient, type CatalogAd } from './admin-client.js';
import { AdEndpointTokenSource, EventSender, RunStats, SigningTokenSource } from './event-sender.js';
import { GroundTruth, type GroundTruthJson, type Mismatch } from './ground-truth.js';
import { HttpLoadClient } from './http-load-client.js';
import { LatencyHistogram } from './latency-histogram.js';
import type { LoadgenOptions } from './loadgen-config.js';
import { runClosedLoop, runOpenLoop } from './rate-driver.js';
import { TrafficPlan } from './traffic-plan.js';

/** The outcome of the check against the query API. */
export interface CheckResult {
  readonly exact: boolean;
  /** Why the run cannot be exact apart from mismatches (unanswered requests, no watermark...). */
  readonly reasons: string[];
  readonly ads: number;
  /** The minutes checked, [from, to). */
  readonly window: { readonly from: string; readonly to: string } | undefined;
  readonly minutes: number;
  readonly events: number;
  readonly mismatchCount: number;
  /** The first mismatches, at most MISMATCHES_SHOWN. */
  readonly mismatches: Mismatch[];
  readonly settleMs: number;
}

export interface LoadgenSummary {
  readonly target: string;
  readonly rate: number | 'max';
  readonly durationMs: number;
  readonly sent: number;
  readonly answered: number;
  readonly offeredPerSecond: number;
  readonly answeredPerSecond: number;
  readonly unknown: number;
  readonly unexpected: number;
  readonly failureReasons: Record<string, number>;
  readonly latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number };
  readonly lateFires: number;
  readonly check: CheckResult | undefined;
  /** True when the run was checked and every count matched. */
  readonly exact: boolean;
}

const MISMATCHES_SHOWN = 20;
const CHECK_CONCURRENCY = 4;

/** A saved ground truth: what `--check-only` needs to check a target later. */
interface TruthFile {
  readonly markerSentMs: number | undefined;
  readonly markerAd: number;
  readonly truth: GroundTruthJson;
}

/** One `adtally loadgen` run: set up ads, send traffic, then check every (ad, minute). */
export async function runLoadgen(
  options: LoadgenOptions,
  progress: (line: string) => void,
): Promise<LoadgenSummary> {
  const admin = new AdminClient(options.target, options.adminToken);
  if (options.checkOnly !== undefined) {
    const { saved, truth } = await readTruthFile(options.checkOnly);
    const check = await checkTarget(
      admin,
      truth,
      saved.markerAd,
      saved.markerSentMs,
      new RunStats(new LatencyHistogram()),
      options,
    );
    return summarize(options, new RunStats(new LatencyHistogram()), 0, 0, check);
  }
  const ads = options.useExisting ? await admin.activeAds() : await admin.createAds(options.ads, runLabel());
  if (ads.length === 0)
    throw new Error(`${options.target.origin} has no active ads (drop --use-existing to create some)`);
  // A cluster's collectors learn of new ads from the store's notifications, a moment after the api made them.
  if (options.catalogWaitMs > 0) await new Promise((resolve) => setTimeout(resolve, options.catalogWaitMs));
  const client = new HttpLoadClient({
    host: options.target.hostname,
    port: Number(options.target.port || 80),
    connections: options.connections,
    timeoutMs: options.timeoutMs,
  });
  try {
    const random = seededRandom(options.seed);
    const truth = options.check || options.saveTruth !== undefined ? new GroundTruth() : undefined;
    for (const ad of ads) truth?.declareAd(ad.id);
    const stats = new RunStats(new LatencyHistogram());
    const targetUrls = new Map(ads.map((ad: CatalogAd) => [ad.id, ad.targetUrl]));
    const sender = new EventSender({
      client,
      plan: new TrafficPlan(
        options.mix,
        ads.map((ad) => ad.id),
        random,
      ),
      truth,
      tolerateUnknownFate: options.tolerateUnknownFate,
      tokens:
        options.secret === undefined
          ? new AdEndpointTokenSource(client)
          : new SigningTokenSource(options.secret, options.clickTtlMs),
      stats,
      targetUrlOf: (ad) => targetUrls.get(ad),
      random,
      clockSlackMs: options.clockSlackMs,
      lateByMs: options.lateByMs,
    });
    const started = performance.now();
    const ticker = options.progress ? progressTicker(stats, client, started, progress) : undefined;
    let lateFires = 0;
    try {
      if (options.rate === 'max') {
        await runClosedLoop({
          concurrency: options.connections,
          durationMs: options.durationMs,
          fire: () => sender.fire(performance.now()),
        });
      } else {
        ({ lateFires } = await runOpenLoop({
          ratePerSecond: options.rate,
          durationMs: options.durationMs,
          fire: (scheduledAt) => void sender.fire(scheduledAt),
        }));
      }
      await sender.drain();
    } finally {
      if (ticker !== undefined) clearInterval(ticker);
    }
    const elapsedMs = performance.now() - started;
    let markerSentMs: number | undefined;
    const markerAd = ads[0]!.id;
    if (truth !== undefined) {
      // Every event was answered before the marker left, so the marker is behind all of them in the log.
      await new Promise((resolve) => setTimeout(resolve, 20));
      markerSentMs = await sender.sendMarker(markerAd);
      await sender.drain();
    }
    if (options.saveTruth !== undefined && truth !== undefined) {
      const file: TruthFile = { markerSentMs, markerAd, truth: truth.toJSON() };
      await writeFile(options.saveTruth, JSON.stringify(file));
    }
    const check =
      options.check && truth !== undefined
        ? await checkTarget(admin, truth, markerAd, markerSentMs, stats, options)
        : undefined;
    return summarize(options, stats, elapsedMs, lateFires, check);
  } finally {
    client.close();
  }
}

async function readTruthFile(path: string): Promise<{ saved: TruthFile; truth: GroundTruth }> {
  try {
    const saved = JSON.parse(await readFile(path, 'utf8')) as TruthFile;
    return { saved, truth: GroundTruth.fromJSON(saved.truth) };
  } catch (err) {
    throw new ConfigError(`--check-only: cannot read ${path}: ${(err as Error).message}`);
  }
}

const runLabel = (): string => new Date().toISOString().slice(0, 19).replace(/[-:T]/g, '');

function progressTicker(
  stats: RunStats,
  client: HttpLoadClient,
  started: number,
  progress: (line: string) => void,
): NodeJS.Timeout {
  let lastSent = 0;
  let lastAnswered = 0;
  const timer = setInterval(() => {
    const seconds = Math.round((performance.now() - started) / 1000);
    const failures = stats.unknown + stats.unexpected;
    progress(
      `loadgen ${seconds}s: ${stats.sent - lastSent}/s sent, ${stats.answered - lastAnswered}/s answered, ` +
        `${failures} failed, p99 ${stats.latency.percentile(99).toFixed(1)} ms, ${client.inFlight + client.queued} in flight`,
    );
    lastSent = stats.sent;
    lastAnswered = stats.answered;
  }, 1_000);
  timer.unref();
  return timer;
}

/**
 * Waits until the target's watermark shows it has processed the marker
 * (sent after every other event was answered), then compares every ad's
 * minutes over the run's window with the ground truth.
 */
async function checkTarget(
  admin: AdminClient,
  truth: GroundTruth,
  markerAd: number,
  markerSentMs: number | undefined,
  stats: RunStats,
  options: LoadgenOptions,
): Promise<CheckResult> {
  const reasons: string[] = [];
  if (stats.unknown > 0 && !options.tolerateUnknownFate)
    reasons.push(`${stats.unknown} requests got no answer or a 5xx, so their events' fate is unknown`);
  if (stats.unexpected > 0) reasons.push(`${stats.unexpected} answers broke the spec (see failureReasons)`);
  if (truth.unattributableCount > 0)
    reasons.push(`${truth.unattributableCount} requests took over a minute, so their minute is unknown`);
  const settleStarted = performance.now();
  if (markerSentMs === undefined)
    reasons.push('the marker event got no answer, so there is nothing to wait for');
  else {
    const needed = markerSentMs - options.clockSlackMs - options.allowedLatenessMs;
    for (;;) {
      const watermark = await admin.watermark(markerAd);
      if (watermark !== undefined && watermark >= needed) break;
      if (performance.now() - settleStarted > options.settleTimeoutMs) {
        reasons.push(
          `the watermark did not reach ${new Date(needed).toISOString()} within ${options.settleTimeoutMs} ms ` +
            `(it is ${watermark === undefined ? 'unset' : new Date(watermark).toISOString()}; is --allowed-lateness the target's?)`,
        );
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const settleMs = performance.now() - settleStarted;
  const window = truth.window();
  const adIds = truth.adIds();
  const mismatches: Mismatch[] = [];
  if (window !== undefined) {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < adIds.length) {
        const ad = adIds[next++]!;
        mismatches.push(...truth.check(ad, await admin.minuteCounts(ad, window.fromMs, window.toMs)));
      }
    };
    await Promise.all(Array.from({ length: CHECK_CONCURRENCY }, worker));
  }
  mismatches.sort((a, b) => a.ad - b.ad || a.minute - b.minute);
  return {
    exact: reasons.length === 0 && mismatches.length === 0,
    reasons,
    ads: adIds.length,
    window:
      window === undefined
        ? undefined
        : { from: new Date(window.fromMs).toISOString(), to: new Date(window.toMs).toISOString() },
    minutes: window === undefined ? 0 : (window.toMs - window.fromMs) / 60_000,
    events: truth.eventCount,
    mismatchCount: mismatches.length,
    mismatches: mismatches.slice(0, MISMATCHES_SHOWN),
    settleMs,
  };
}

function summarize(
  options: LoadgenOptions,
  stats: RunStats,
  elapsedMs: number,
  lateFires: number,
  check: CheckResult | undefined,
): LoadgenSummary {
  const perSecond = (n: number): number => (elapsedMs === 0 ? 0 : (n * 1000) / elapsedMs);
  const h = stats.latency;
  return {
    target: options.target.origin,
    rate: options.rate,
    durationMs: Math.round(elapsedMs),
    sent: stats.sent,
    answered: stats.answered,
    offeredPerSecond: perSecond(stats.sent),
    answeredPerSecond: perSecond(stats.answered),
    unknown: stats.unknown,
    unexpected: stats.unexpected,
    failureReasons: Object.fromEntries(stats.failureReasons),
    latencyMs: {
      p50: h.percentile(50),
      p90: h.percentile(90),
      p99: h.percentile(99),
      p999: h.percentile(99.9),
      max: h.max,
    },
    lateFires,
    check,
    exact: check?.exact ?? false,
  };
}

/** The summary for people: a few lines, mismatches named by ad and minute. */
export function formatSummary(s: LoadgenSummary): string {
  const ms = (v: number): string => `${v.toFixed(2)} ms`;
  const lines = [
    `target ${s.target}, rate ${s.rate === 'max' ? 'max (closed loop)' : `${s.rate}/s`}, ${(s.durationMs / 1000).toFixed(1)} s`,
    `sent ${s.sent} (${Math.round(s.offeredPerSecond)}/s), answered ${s.answered} (${Math.round(s.answeredPerSecond)}/s), ` +
      `unknown fate ${s.unknown}, unexpected answers ${s.unexpected}`,
    `latency p50 ${ms(s.latencyMs.p50)}, p90 ${ms(s.latencyMs.p90)}, p99 ${ms(s.latencyMs.p99)}, ` +
      `p99.9 ${ms(s.latencyMs.p999)}, max ${ms(s.latencyMs.max)}`,
  ];
  for (const [reason, count] of Object.entries(s.failureReasons)) lines.push(`  failed: ${reason} x${count}`);
  const c = s.check;
  if (c === undefined) lines.push('not checked');
  else {
    lines.push(
      `checked ${c.ads} ads x ${c.minutes} minutes (${c.events} events) after ${Math.round(c.settleMs)} ms`,
    );
    for (const reason of c.reasons) lines.push(`  ${reason}`);
    for (const m of c.mismatches) {
      const span = m.fromMinute === m.minute ? iso(m.minute) : `${iso(m.fromMinute)}..${iso(m.minute)}`;
      const expected =
        m.expected.min === m.expected.max ? `${m.expected.min}` : `${m.expected.min}-${m.expected.max}`;
      lines.push(`  ad ${m.ad} minute ${span} ${m.field}: expected ${expected}, got ${m.observed}`);
    }
    if (c.mismatchCount > c.mismatches.length)
      lines.push(`  ... ${c.mismatchCount - c.mismatches.length} more mismatches`);
    lines.push(`exact: ${c.exact}`);
  }
  return lines.join('\n');
}

const iso = (ms: number): string => new Date(ms).toISOString().slice(0, 16) + 'Z';
