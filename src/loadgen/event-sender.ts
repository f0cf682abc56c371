import { signToken } from '../domain/token.js';
import { fieldOf, type GroundTruth } from './ground-truth.js';
import { LoadRequestError, type HttpLoadClient, type LoadResponse } from './http-load-client.js';
import type { LatencyHistogram } from './latency-histogram.js';
import {
  expectationOf,
  type EventType,
  type InvalidKind,
  type PlannedEvent,
  type SentToken,
  type TrafficPlan,
} from './traffic-plan.js';
import { BOT_USER_AGENTS, BROWSER_USER_AGENTS } from './user-agents.js';

/** Where fresh tokens come from: signed here (`--secret`) or issued by the target's `GET /ad`. */
export interface TokenSource {
  issue(ad: number, imp: string, invalid: InvalidKind | undefined): SentToken | Promise<SentToken>;
}

/** Signs tokens as an ad server holding the shared secret would. */
export class SigningTokenSource implements TokenSource {
  constructor(
    private readonly secret: string,
    private readonly clickTtlMs: number,
  ) {}

  issue(ad: number, imp: string, invalid: InvalidKind | undefined): SentToken {
    const nowSec = Math.floor(Date.now() / 1000);
    // An hour past the end of the validity window: expired whatever the clocks' small differences.
    if (invalid === 'expired')
      return signToken(this.secret, ad, imp, nowSec - this.clickTtlMs / 1000 - 3_600);
    if (invalid === 'bad_signature') return signToken(`${this.secret}-not`, ad, imp, nowSec);
    return signToken(this.secret, ad, imp, nowSec);
  }
}

/** Asks the target for each token (`GET /ad`); the target picks the ad. */
export class AdEndpointTokenSource implements TokenSource {
  constructor(private readonly client: HttpLoadClient) {}

  async issue(_ad: number, _imp: string, invalid: InvalidKind | undefined): Promise<SentToken> {
    const res = await this.client.request('GET', '/ad', '');
    if (res.status !== 200) throw new UnexpectedAnswer(`GET /ad answered ${res.status}`);
    const token = JSON.parse(res.body.toString('utf8')) as SentToken;
    if (invalid === 'bad_signature') {
      // Change the first character: every one of its 6 bits is signature (the last one's low bits are padding).
      const first = token.sig.startsWith('A') ? 'B' : 'A';
      return { ...token, sig: `${first}${token.sig.slice(1)}` };
    }
    return token;
  }
}

/** An answer that contradicts what the spec promises for the request (wrong status, wrong Location). */
class UnexpectedAnswer extends Error {}

/** A 5xx: the event may or may not have become durable. */
class UnknownFate extends Error {}

/** What happened to the requests of a run. */
export class RunStats {
  sent = 0;
  answered = 0;
  /** Timeouts, broken connections and 5xx: the event may or may not be durable. */
  unknown = 0;
  /** Answers the spec rules out; the event's fate is then not what loadgen assumed. */
  unexpected = 0;
  batches = 0;
  readonly failureReasons = new Map<string, number>();

  constructor(readonly latency: LatencyHistogram) {}

  fail(kind: 'unknown' | 'unexpected', reason: string): void {
    this[kind]++;
    this.failureReasons.set(reason, (this.failureReasons.get(reason) ?? 0) + 1);
  }
}

export interface EventSenderDeps {
  readonly client: HttpLoadClient;
  readonly plan: TrafficPlan;
  /** Undefined when the run is not checked (no truth kept). */
  readonly truth: GroundTruth | undefined;
  readonly tokens: TokenSource;
  readonly stats: RunStats;
  /** The catalog URL of each ad, to check every click's Location; undefined skips the check. */
  readonly targetUrlOf: ((ad: number) => string | undefined) | undefined;
  readonly random: () => number;
  readonly clockSlackMs: number;
  /**
   * Keep events whose request got no answer (a killed server, a 5xx) in the
   * truth as "counted at most once" instead of giving up exactness: for runs
   * that kill processes on purpose.
   */
  readonly tolerateUnknownFate: boolean;
  readonly lateByMs: number;
}

interface LateLine {
  readonly event: PlannedEvent;
  readonly type: EventType;
  readonly token: SentToken;
}

const LATE_BATCH_LINES = 200;
const LATE_FLUSH_MS = 50;
const PIXEL_OR_REDIRECT: Readonly<Record<EventType, number>> = { impression: 200, click: 302 };

/**
 * Turns planned events into requests, checks each answer against the spec,
 * records answered events in the ground truth and feeds them back to the plan.
 */
export class EventSender {
  private readonly runId = Math.random().toString(36).slice(2, 10).padEnd(8, '0');
  private serial = 0;
  private late: LateLine[] = [];
  private readonly lateTimer: NodeJS.Timeout;
  private readonly pending = new Set<Promise<void>>();
  /** performance.now() to the wall clock the target stamps events with. */
  private readonly wallOffset = Date.now() - performance.now();

  constructor(private readonly deps: EventSenderDeps) {
    this.lateTimer = setInterval(() => this.flushLate(), LATE_FLUSH_MS);
    this.lateTimer.unref();
  }

  /** Sends the plan's next event; `scheduledAt` (performance.now()) is where its latency counts from. */
  fire(scheduledAt: number): Promise<void> {
    const done = this.send(this.deps.plan.next(), scheduledAt);
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
    return done;
  }

  /** Sends one valid impression after everything else was answered; returns when it left (wall ms). */
  async sendMarker(ad: number): Promise<number | undefined> {
    const event: PlannedEvent = { kind: 'fresh', type: 'impression', ad, invalid: undefined, late: false };
    let sentAtWall: number | undefined;
    await this.send(event, performance.now(), (res) => (sentAtWall = res.sentAt + this.wallOffset));
    return sentAtWall;
  }

  /** Sends what is left of the late batch and waits for every request in flight. */
  async drain(): Promise<void> {
    clearInterval(this.lateTimer);
    this.flushLate();
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private async send(
    event: PlannedEvent,
    scheduledAt: number,
    onAnswer?: (res: LoadResponse) => void,
  ): Promise<void> {
    const { deps } = this;
    deps.stats.sent++;
    let sending: { type: EventType; token: SentToken; startedAt: number } | undefined;
    try {
      const type: EventType = event.kind === 'click' ? 'click' : event.type;
      const token = await this.tokenFor(event);
      if (event.kind === 'fresh' && event.late) {
        this.late.push({ event, type, token });
        if (this.late.length >= LATE_BATCH_LINES) this.flushLate();
        return;
      }
      const invalid = event.kind === 'fresh' ? event.invalid : undefined;
      const path = `/${type}?ad=${token.ad}&imp=${token.imp}&ts=${token.ts}&sig=${token.sig}`;
      sending = { type, token, startedAt: performance.now() };
      const res = await deps.client.request('GET', path, this.headersFor(invalid));
      deps.stats.latency.record(res.answeredAt - scheduledAt);
      this.checkAnswer(type, token, res, invalid === 'prefetch');
      deps.stats.answered++;
      onAnswer?.(res);
      const earliest = res.sentAt + this.wallOffset - deps.clockSlackMs;
      const latest = res.answeredAt + this.wallOffset + deps.clockSlackMs;
      deps.truth?.record(token.ad, fieldOf(type, expectationOf(event)), earliest, latest);
      deps.plan.answered(event, type, token);
    } catch (err) {
      this.failed(err);
      if (sending !== undefined && deps.tolerateUnknownFate && isUnknownFate(err)) {
        const earliest = sending.startedAt + this.wallOffset - deps.clockSlackMs;
        const latest = performance.now() + this.wallOffset + deps.clockSlackMs;
        deps.truth?.recordMaybe(
          sending.token.ad,
          fieldOf(sending.type, expectationOf(event)),
          earliest,
          latest,
        );
      }
    }
  }

  private async tokenFor(event: PlannedEvent): Promise<SentToken> {
    if (event.kind !== 'fresh') return event.token;
    const imp = `${this.runId}_${(this.serial++).toString(36)}`;
    return this.deps.tokens.issue(event.ad, imp, event.invalid);
  }

  private headersFor(invalid: InvalidKind | undefined): string {
    const { random } = this.deps;
    if (invalid === 'bot') return `User-Agent: ${pick(BOT_USER_AGENTS, random)}\r\n`;
    const browser = `User-Agent: ${pick(BROWSER_USER_AGENTS, random)}\r\n`;
    if (invalid !== 'prefetch') return browser;
    // Chrome's speculation rules send Sec-Purpose; older Safari and Firefox send Purpose.
    return random() < 0.5 ? `${browser}Sec-Purpose: prefetch\r\n` : `${browser}Purpose: prefetch\r\n`;
  }

  private checkAnswer(type: EventType, token: SentToken, res: LoadResponse, speculative: boolean): void {
    // SPEC 3.1: a speculative click is recorded as prefetch and answered 503, never the 302.
    if (type === 'click' && speculative) {
      if (res.status !== 503) throw new UnexpectedAnswer(`speculative click answered ${res.status}, not 503`);
      return;
    }
    if (res.status >= 500) throw new UnknownFate(`${type} answered ${res.status}`);
    if (res.status !== PIXEL_OR_REDIRECT[type]) throw new UnexpectedAnswer(`${type} answered ${res.status}`);
    if (type === 'click') {
      const expected = this.deps.targetUrlOf?.(token.ad);
      if (expected !== undefined && res.location !== expected) {
        throw new UnexpectedAnswer(`click redirected to ${res.location ?? 'nowhere'}, not the catalog URL`);
      }
    }
  }

  /** One POST /events with the late lines, each dated up to --late-by in the past. */
  private flushLate(): void {
    if (this.late.length === 0) return;
    const lines = this.late;
    this.late = [];
    const { deps } = this;
    const now = Date.now();
    const dated = lines.map((line) => ({
      ...line,
      at: Math.floor(now - 500 - deps.random() * Math.max(0, deps.lateByMs - 500)),
    }));
    const body = Buffer.from(
      dated
        .map(({ type, token, at }) =>
          JSON.stringify({ type, ad: token.ad, imp: token.imp, ts: token.ts, sig: token.sig, at }),
        )
        .join('\n'),
    );
    const done = (async () => {
      try {
        const res = await deps.client.request(
          'POST',
          '/events',
          'Content-Type: application/x-ndjson\r\n',
          body,
        );
        if (res.status >= 500) throw new UnknownFate(`batch answered ${res.status}`);
        const answer = JSON.parse(res.body.toString('utf8')) as { accepted?: number; rejected?: number };
        if (res.status !== 202 || answer.accepted !== lines.length) {
          throw new UnexpectedAnswer(
            `batch of ${lines.length} answered ${res.status} ${res.body.toString('utf8')}`,
          );
        }
        deps.stats.batches++;
        deps.stats.answered += lines.length;
        for (const { event, type, token, at } of dated) {
          deps.truth?.record(token.ad, fieldOf(type, expectationOf(event)), at, at);
          deps.plan.answered(event, type, token);
        }
      } catch (err) {
        for (let i = 0; i < lines.length; i++) this.failed(err);
        if (deps.tolerateUnknownFate && isUnknownFate(err)) {
          for (const { event, type, token, at } of dated) {
            deps.truth?.recordMaybe(token.ad, fieldOf(type, expectationOf(event)), at, at);
          }
        }
      }
    })();
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
  }

  private failed(err: unknown): void {
    const { stats } = this.deps;
    if (err instanceof UnknownFate) stats.fail('unknown', err.message);
    else if (err instanceof LoadRequestError)
      stats.fail('unknown', err.kind === 'socket' ? (err.code ?? 'socket error') : err.kind);
    else stats.fail('unexpected', (err as Error).message);
  }
}

const pick = <T>(list: readonly T[], random: () => number): T => list[Math.floor(random() * list.length)]!;

/** No answer, or a 5xx: the server may or may not have recorded the event. */
function isUnknownFate(err: unknown): boolean {
  return err instanceof UnknownFate || err instanceof LoadRequestError;
}
