import { seededRandom, zipfSampler } from '../domain/seeded-random.js';
import { signToken } from '../domain/token.js';
import { HttpLoadClient, type LoadResponse } from '../loadgen/http-load-client.js';
import { LatencyHistogram } from '../loadgen/latency-histogram.js';
import { runOpenLoop } from '../loadgen/rate-driver.js';
import { BROWSER_USER_AGENTS } from '../loadgen/user-agents.js';

/** GET requests from `nextPath`, each expected to get `expectStatus`. */
export interface RequestLoad {
  readonly nextPath: () => string;
  readonly headerLines: string;
  readonly expectStatus: number;
  /** Open loop at this many requests/s, or 'max': every connection busy (closed loop). */
  readonly rate: number | 'max';
  /** Stop after this long... */
  readonly durationMs?: number;
  /** ...or after this many requests (closed loop only). */
  readonly requests?: number;
  readonly connections: number;
  readonly timeoutMs: number;
  /** The same load, sent first for this long and not counted. */
  readonly warmupMs?: number;
}

export interface LoadFigures {
  readonly sent: number;
  readonly answered: number;
  /** Timeouts, connection errors and answers other than the status expected. */
  readonly failed: number;
  readonly failureRate: number;
  readonly answeredPerSecond: number;
  readonly elapsedMs: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

export const BROWSER_HEADER = `User-Agent: ${BROWSER_USER_AGENTS[0]!}\r\n`;
let runSerial = 0;

/**
 * Paths of valid tracking requests on fresh impression ids over `adIds`
 * (Zipf 1.1), signed as an ad server would: the same requests for every
 * server measured.
 */
export function trackingPaths(
  type: 'click' | 'impression',
  adIds: readonly number[],
  secret: string,
): () => string {
  const random = seededRandom(7 + runSerial);
  const pickAd = zipfSampler(adIds.length, 1.1, random);
  const prefix = `b${Date.now().toString(36)}${(runSerial++).toString(36)}_`;
  let serial = 0;
  return () => {
    const ad = adIds[pickAd()]!;
    const t = signToken(secret, ad, `${prefix}${(serial++).toString(36)}`, Math.floor(Date.now() / 1000));
    return `/${type}?ad=${ad}&imp=${t.imp}&ts=${t.ts}&sig=${t.sig}`;
  };
}

/**
 * Drives one server and measures answers and latency (open loop: from each
 * request's scheduled time; closed loop: from when it was issued).
 */
export async function driveRequests(url: string, load: RequestLoad): Promise<LoadFigures> {
  const target = new URL(url);
  const client = new HttpLoadClient({
    host: target.hostname,
    port: Number(target.port),
    connections: load.connections,
    timeoutMs: load.timeoutMs,
  });
  try {
    // A cold server (JIT, fresh connections, empty caches) answers its first second far slower than
    // it ever will again: that part of the run is sent but not counted.
    if ((load.warmupMs ?? 0) > 0)
      await phase(client, { ...load, durationMs: load.warmupMs, requests: undefined });
    return await phase(client, load);
  } finally {
    client.close();
  }
}

/** One measured stretch of load over `client`. */
async function phase(client: HttpLoadClient, load: RequestLoad): Promise<LoadFigures> {
  const latency = new LatencyHistogram();
  let sent = 0;
  let answered = 0;
  let failed = 0;
  const fire = async (scheduledAt: number): Promise<void> => {
    sent++;
    let res: LoadResponse;
    try {
      res = await client.request('GET', load.nextPath(), load.headerLines);
    } catch {
      failed++;
      return;
    }
    if (res.status !== load.expectStatus) failed++;
    else {
      answered++;
      latency.record(res.answeredAt - scheduledAt);
    }
  };
  const started = performance.now();
  if (load.rate === 'max') await closedLoop(load, fire);
  else {
    const inFlight = new Set<Promise<void>>();
    await runOpenLoop({
      ratePerSecond: load.rate,
      durationMs: load.durationMs ?? 0,
      fire: (scheduledAt) => {
        const done = fire(scheduledAt);
        inFlight.add(done);
        void done.then(() => inFlight.delete(done));
      },
    });
    await Promise.all(inFlight);
  }
  const elapsedMs = performance.now() - started;
  return {
    sent,
    answered,
    failed,
    failureRate: sent === 0 ? 0 : failed / sent,
    answeredPerSecond: (answered * 1000) / elapsedMs,
    elapsedMs,
    p50: latency.percentile(50),
    p99: latency.percentile(99),
    p999: latency.percentile(99.9),
    max: latency.max,
  };
}

/** `connections` loops, each sending its next request when the previous is answered, until time or count runs out. */
async function closedLoop(load: RequestLoad, fire: (scheduledAt: number) => Promise<void>): Promise<void> {
  const end = load.durationMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + load.durationMs;
  const limit = load.requests ?? Number.POSITIVE_INFINITY;
  let issued = 0;
  const loop = async (): Promise<void> => {
    while (issued < limit && performance.now() < end) {
      issued++;
      await fire(performance.now());
    }
  };
  await Promise.all(Array.from({ length: load.connections }, loop));
}
