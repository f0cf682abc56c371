import { signToken } from '../../src/domain/token.js';
import { CHROME_UA, TEST_ADMIN_TOKEN, TEST_SECRET } from './adtally-process.js';

/** The invalid reasons of SPEC 3.1, as the query API names them. */
export const REASONS = ['duplicate', 'bot', 'prefetch', 'bad_signature', 'expired'] as const;
export type Reason = (typeof REASONS)[number];

/** One counter of a bucket: the billable counts, then `click.<reason>` and `impression.<reason>`. */
export type Field = 'impressions' | 'clicks' | `click.${Reason}` | `impression.${Reason}`;
export const FIELDS: readonly Field[] = [
  'impressions',
  'clicks',
  ...REASONS.map((r): Field => `click.${r}`),
  ...REASONS.map((r): Field => `impression.${r}`),
];
export type Counts = Record<Field, number>;

export const MINUTE_MS = 60_000;
export const minuteOf = (ms: number): number => Math.floor(ms / MINUTE_MS);
export const isoMinute = (minute: number): string => new Date(minute * MINUTE_MS).toISOString();
export const GOOGLEBOT_UA = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
export const OTHER_SECRET = 'not-the-secret-0123456789abcdef';
const DEFAULT_TTL_SEC = 86_400;

export function zeroCounts(): Counts {
  return Object.fromEntries(FIELDS.map((f) => [f, 0])) as Counts;
}

export function addInto(into: Counts, more: Readonly<Counts>): Counts {
  for (const f of FIELDS) into[f] += more[f];
  return into;
}

/** One bucket of a series as the query API answers it (SPEC 3.3). */
export interface ApiBucket {
  ts: string;
  impressions: number;
  clicks: number;
  invalid: Record<Reason, number>;
  invalidImpressions: Record<Reason, number>;
  ctr: number;
  final: boolean;
}

export interface SeriesAnswer {
  ad?: number;
  campaign?: number;
  granularity: string;
  from: string;
  to: string;
  watermark: string | null;
  series: ApiBucket[];
  totals: { impressions: number; clicks: number; ctr: number; late: number };
}

export function countsOfBucket(b: ApiBucket): Counts {
  const c = zeroCounts();
  c.impressions = b.impressions;
  c.clicks = b.clicks;
  for (const r of REASONS) {
    c[`click.${r}`] = b.invalid[r];
    c[`impression.${r}`] = b.invalidImpressions[r];
  }
  return c;
}

export function sumBuckets(buckets: readonly ApiBucket[]): Counts {
  const total = zeroCounts();
  for (const b of buckets) addInto(total, countsOfBucket(b));
  return total;
}

type Outcome = 'ok' | 'bad_signature' | 'expired' | 'bot' | 'prefetch';

/** What the test knows of one event it sent: enough to classify it as the spec says. */
export interface SentEvent {
  readonly type: 'impression' | 'click';
  readonly ad: number;
  readonly imp: string;
  readonly ts: number;
  readonly secret: string;
  readonly bot: boolean;
  readonly prefetch: boolean;
  /** Event time bounds (ms): equal for a batch line with `at`, else [before request, after answer]. */
  readonly earliest: number;
  readonly latest: number;
}

interface Ambiguous {
  readonly ad: number;
  readonly field: Field;
  readonly minutes: readonly [number, number];
}

/**
 * The test's own oracle: classifies every event it sends (SPEC 3.1 / 4.1:
 * bad signature, then expired, then bot, then prefetch; a valid event is
 * billable when it is the first valid one of its impression (ad, imp) and kind) and
 * counts it per (ad, minute). An event whose request straddled a minute
 * boundary is kept apart with both minutes: checks sum over the two.
 */
export class Oracle {
  private readonly exact = new Map<number, Map<number, Counts>>();
  private readonly ambiguous: Ambiguous[] = [];
  private readonly seen = new Set<string>();

  constructor(private readonly ttlSec = DEFAULT_TTL_SEC) {}

  classify(e: SentEvent): Outcome {
    const valid =
      signToken(TEST_SECRET, e.ad, e.imp, e.ts).sig === signToken(e.secret, e.ad, e.imp, e.ts).sig;
    if (!valid) return 'bad_signature';
    // The test keeps ts far from the window's edges, so either bound decides alike.
    const at = e.earliest / 1000;
    if (at < e.ts - 300 || at > e.ts + this.ttlSec) return 'expired';
    if (e.bot) return 'bot';
    if (e.prefetch) return 'prefetch';
    return 'ok';
  }

  /** Records one accepted event (in the order the server logs them) and returns the field it counts under. */
  record(e: SentEvent): Field {
    const outcome = this.classify(e);
    let field: Field;
    if (outcome === 'ok') {
      const key = `${e.type}:${e.ad}:${e.imp}`;
      const first = !this.seen.has(key);
      this.seen.add(key);
      field = first ? (e.type === 'click' ? 'clicks' : 'impressions') : `${e.type}.duplicate`;
    } else field = `${e.type}.${outcome}`;
    const lo = minuteOf(e.earliest);
    const hi = minuteOf(e.latest);
    if (lo === hi) this.bucket(e.ad, lo)[field]++;
    else this.ambiguous.push({ ad: e.ad, field, minutes: [lo, hi] });
    return field;
  }

  private bucket(ad: number, minute: number): Counts {
    let byMinute = this.exact.get(ad);
    if (byMinute === undefined) this.exact.set(ad, (byMinute = new Map<number, Counts>()));
    let c = byMinute.get(minute);
    if (c === undefined) byMinute.set(minute, (c = zeroCounts()));
    return c;
  }

  /** Every counter of these ads over all time. */
  totals(ads: readonly number[]): Counts {
    const total = zeroCounts();
    for (const ad of ads) for (const c of this.exact.get(ad)?.values() ?? []) addInto(total, c);
    for (const a of this.ambiguous) if (ads.includes(a.ad)) total[a.field]++;
    return total;
  }

  /** Events whose request straddled a minute boundary (checked by the sum of both minutes). */
  straddling(): number {
    return this.ambiguous.length;
  }

  /** The ads with anything counted. */
  adsWithData(): number[] {
    const ads = new Set([...this.exact.keys(), ...this.ambiguous.map((a) => a.ad)]);
    return [...ads].sort((a, b) => a - b);
  }

  /** All minutes any event of these ads may fall in. */
  minutes(ads: readonly number[]): number[] {
    const set = new Set<number>();
    for (const ad of ads) for (const m of this.exact.get(ad)?.keys() ?? []) set.add(m);
    for (const a of this.ambiguous) if (ads.includes(a.ad)) a.minutes.forEach((m) => set.add(m));
    return [...set].sort((a, b) => a - b);
  }

  /**
   * Compares a minute series of the sum of `ads` with the oracle. Minutes
   * joined by an ambiguous event are compared as one group (their sum), all
   * others one by one. Returns the differences, empty when it matches.
   */
  diffMinuteSeries(ads: readonly number[], series: readonly ApiBucket[]): string[] {
    const served = new Map(series.map((b) => [minuteOf(Date.parse(b.ts)), countsOfBucket(b)]));
    // Groups of minutes: union of the two minutes of each ambiguous event.
    const groupOf = new Map<number, number>();
    const root = (m: number): number => {
      let r = m;
      while (groupOf.has(r) && groupOf.get(r) !== r) r = groupOf.get(r)!;
      return r;
    };
    for (const m of served.keys()) groupOf.set(m, m);
    for (const a of this.ambiguous) {
      if (!ads.includes(a.ad)) continue;
      const [x, y] = a.minutes.map(root) as [number, number];
      groupOf.set(Math.max(x, y), Math.min(x, y));
    }
    const groups = new Map<number, { minutes: number[]; expected: Counts; served: Counts }>();
    const groupFor = (m: number) => {
      const r = root(m);
      let g = groups.get(r);
      if (g === undefined) groups.set(r, (g = { minutes: [], expected: zeroCounts(), served: zeroCounts() }));
      return g;
    };
    for (const [m, c] of served) {
      const g = groupFor(m);
      g.minutes.push(m);
      addInto(g.served, c);
    }
    const problems: string[] = [];
    for (const ad of ads) {
      for (const [m, c] of this.exact.get(ad) ?? []) {
        if (!served.has(m))
          problems.push(`ad ${ad}: minute ${isoMinute(m)} has events but is not in the series`);
        else addInto(groupFor(m).expected, c);
      }
    }
    for (const a of this.ambiguous) {
      if (!ads.includes(a.ad)) continue;
      if (!served.has(a.minutes[0]) || !served.has(a.minutes[1]))
        problems.push(`minutes of ${a.field} not served`);
      else groupFor(a.minutes[0]).expected[a.field]++;
    }
    // Within a group, each minute holds at least its exact events and at most those plus the ambiguous ones.
    for (const [m, c] of served) {
      if (groupFor(m).minutes.length < 2) continue;
      const low = zeroCounts();
      for (const ad of ads) addInto(low, this.exact.get(ad)?.get(m) ?? zeroCounts());
      const high = { ...low };
      for (const a of this.ambiguous) if (ads.includes(a.ad) && a.minutes.includes(m)) high[a.field]++;
      for (const f of FIELDS) {
        if (c[f] < low[f] || c[f] > high[f])
          problems.push(
            `ads ${ads.join(',')} minute ${isoMinute(m)} ${f}: served ${c[f]}, expected ${low[f]}..${high[f]}`,
          );
      }
    }
    for (const g of groups.values()) {
      for (const f of FIELDS) {
        if (g.expected[f] !== g.served[f]) {
          problems.push(
            `ads ${ads.join(',')} minutes ${g.minutes.map(isoMinute).join('+')} ${f}: served ${g.served[f]}, expected ${g.expected[f]}`,
          );
        }
      }
    }
    return problems;
  }
}

export interface HitOptions {
  /** Sign with this secret (default the server's). */
  readonly secret?: string;
  /** Token issue time, unix seconds (default now). */
  readonly ts?: number;
  readonly ua?: 'chrome' | 'googlebot';
  readonly method?: 'GET' | 'HEAD';
  /** Extra request headers such as `sec-purpose: prefetch`. */
  readonly headers?: Record<string, string>;
}

export interface BatchLine {
  readonly type: 'impression' | 'click';
  readonly ad: number;
  readonly imp: string;
  readonly ts?: number;
  readonly secret?: string;
  readonly at?: number;
}

/**
 * Sends tracking traffic to a running server and tells the oracle what each
 * accepted event should count as.
 */
export class Traffic {
  constructor(
    readonly base: string,
    readonly oracle: Oracle,
    /** Ads the catalog knows: events of other ads are 404 or rejected and count nowhere. */
    readonly knownAds: ReadonlySet<number>,
  ) {}

  private async hit(
    type: 'impression' | 'click',
    ad: number,
    imp: string,
    o: HitOptions,
  ): Promise<{ res: Response; field: Field | undefined; sentAt: number; answeredAt: number }> {
    const ts = o.ts ?? Math.floor(Date.now() / 1000);
    const secret = o.secret ?? TEST_SECRET;
    const t = signToken(secret, ad, imp, ts);
    const query = new URLSearchParams({ ad: String(ad), imp, ts: String(ts), sig: t.sig });
    const method = o.method ?? 'GET';
    const headers = { 'user-agent': o.ua === 'googlebot' ? GOOGLEBOT_UA : CHROME_UA, ...(o.headers ?? {}) };
    const sentAt = Date.now();
    const res = await fetch(`${this.base}/${type}?${query}`, { method, headers, redirect: 'manual' });
    await res.arrayBuffer();
    const answeredAt = Date.now();
    if (!this.knownAds.has(ad)) return { res, field: undefined, sentAt, answeredAt };
    const prefetchHeader = Object.entries(o.headers ?? {}).some(
      ([k, v]) => /^(sec-)?purpose$/i.test(k) && /prefetch|prerender/i.test(v),
    );
    const field = this.oracle.record({
      type,
      ad,
      imp,
      ts,
      secret,
      bot: o.ua === 'googlebot',
      prefetch: method === 'HEAD' || prefetchHeader,
      earliest: sentAt,
      latest: answeredAt,
    });
    return { res, field, sentAt, answeredAt };
  }

  /** GET|HEAD /impression; must answer the pixel. */
  async impression(ad: number, imp: string, o: HitOptions = {}) {
    const r = await this.hit('impression', ad, imp, o);
    if (r.res.status !== 200) throw new Error(`/impression answered ${r.res.status}`);
    return r;
  }

  /** GET|HEAD /click; must answer 302 (404 for an unknown ad, 503 for a speculative request). */
  async click(ad: number, imp: string, o: HitOptions = {}) {
    const r = await this.hit('click', ad, imp, o);
    const speculative = Object.entries(o.headers ?? {}).some(
      ([k, v]) => /^(sec-)?purpose$/i.test(k) && /prefetch|prerender/i.test(v),
    );
    const want = !this.knownAds.has(ad) ? 404 : speculative ? 503 : 302;
    if (r.res.status !== want) throw new Error(`/click of ad ${ad} answered ${r.res.status}, not ${want}`);
    return r;
  }

  /**
   * POST /events. Lines the spec rejects (unknown ad, `at` outside the token's
   * validity or more than 5 s ahead) are predicted here and checked against
   * the answer's counts; `raw` lines are sent as they are and must be rejected.
   */
  async batch(
    lines: readonly (BatchLine | { raw: string })[],
  ): Promise<{ accepted: number; rejected: number }> {
    const body: string[] = [];
    const now = Date.now();
    let expectRejected = 0;
    for (const line of lines) {
      if ('raw' in line) {
        body.push(line.raw);
        expectRejected++;
        continue;
      }
      const ts = line.ts ?? Math.floor(now / 1000);
      const t = signToken(line.secret ?? TEST_SECRET, line.ad, line.imp, ts);
      body.push(JSON.stringify({ type: line.type, ...t, ...(line.at === undefined ? {} : { at: line.at }) }));
      const atOut =
        line.at !== undefined &&
        (line.at > now + 5_000 || line.at / 1000 < ts - 300 || line.at / 1000 > ts + DEFAULT_TTL_SEC);
      if (!this.knownAds.has(line.ad) || atOut) expectRejected++;
    }
    const sentAt = Date.now();
    const res = await fetch(`${this.base}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', 'user-agent': CHROME_UA },
      body: body.join('\n'),
    });
    const answer = (await res.json()) as { accepted: number; rejected: number };
    const answeredAt = Date.now();
    if (res.status !== 202) throw new Error(`/events answered ${res.status}`);
    if (answer.rejected !== expectRejected || answer.accepted !== lines.length - expectRejected) {
      throw new Error(`/events: ${JSON.stringify(answer)}, expected ${expectRejected} rejected`);
    }
    for (const line of lines) {
      if ('raw' in line || !this.knownAds.has(line.ad)) continue;
      const ts = line.ts ?? Math.floor(now / 1000);
      if (line.at !== undefined) {
        const out =
          line.at > now + 5_000 || line.at / 1000 < ts - 300 || line.at / 1000 > ts + DEFAULT_TTL_SEC;
        if (out) continue;
      }
      this.oracle.record({
        type: line.type,
        ad: line.ad,
        imp: line.imp,
        ts,
        secret: line.secret ?? TEST_SECRET,
        // Server-to-server lines carry no browser user agent: bot and prefetch rules do not apply.
        bot: false,
        prefetch: false,
        earliest: line.at ?? sentAt,
        latest: line.at ?? answeredAt,
      });
    }
    return answer;
  }
}

/** GET with a bearer token (admin by default, `null` for none); answers status and JSON body. */
export async function apiGet<T = unknown>(
  base: string,
  path: string,
  token: string | null = TEST_ADMIN_TOKEN,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${path}`, {
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
  const text = await res.text();
  return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
}

/** Polls `probe` every `everyMs` until it returns a value or `timeoutMs` passes (then the last value). */
export async function pollUntil<T>(
  probe: () => Promise<{ done: boolean; value: T }>,
  timeoutMs: number,
  everyMs = 50,
): Promise<{ done: boolean; value: T; elapsedMs: number }> {
  const started = Date.now();
  for (;;) {
    const r = await probe();
    const elapsedMs = Date.now() - started;
    if (r.done || elapsedMs >= timeoutMs) return { ...r, elapsedMs };
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** A counter or gauge of the Prometheus text of /metrics (0 when absent). */
export async function metricValue(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return match === null ? 0 : Number(match[1]);
}
