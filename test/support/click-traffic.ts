import { Agent, request } from 'node:http';
import { CHROME_UA, tokenQuery } from './adtally-process.js';

export { seededRandom } from '../../src/domain/seeded-random.js';

/** One GET /click as the client saw it. */
export interface ClickAttempt {
  /** Date.now() just before the request was handed to the socket. */
  readonly sentAt: number;
  /** Date.now() when the answer's status line arrived, or when the request failed. */
  readonly endedAt: number;
  /** The HTTP status, when there was an answer. */
  readonly status: number | undefined;
  /** The error code (ECONNRESET, ECONNREFUSED, timeout...), when there was none. */
  readonly error: string | undefined;
  /** True when the impression already had a 302 before this request was sent. */
  readonly afterFirst302: boolean;
}

/** Everything sent for one impression id. */
export interface TrackedImpression {
  readonly imp: string;
  readonly ad: number;
  readonly query: string;
  readonly attempts: ClickAttempt[];
  /** The first attempt answered 302, once there is one. */
  first302: ClickAttempt | undefined;
  /** In the retry pool or held by a retrying client (never in flight twice before its first 302). */
  queued: boolean;
}

export interface ClickTrafficOptions {
  readonly concurrency: number;
  /** Share of requests that repeat an impression already answered 302 (duplicates). */
  readonly duplicateShare: number;
  /** Share of requests that retry an impression that has no 302 yet (a client retrying). */
  readonly retryShare: number;
  readonly requestTimeoutMs?: number;
}

interface Target {
  readonly url: string;
  readonly agent: Agent;
}

export interface ClickTrafficStats {
  sent: number;
  answered302: number;
  failed: number;
  /** Answers with a status other than 302 (none expected), by status. */
  otherStatus: Map<number, number>;
  /** Failures by error code. */
  errors: Map<string, number>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Keep-alive click traffic against a server that may be killed and restarted
 * on another port at any moment. Loops wait while no server is attached.
 *
 * Per impression, every attempt before its first 302 is sequential (a new id
 * is used by one loop; a retry takes the id out of the pool), and duplicates
 * are only sent for ids already answered 302. So the first event of an id in
 * the log is one of its attempts up to and including its first 302, and its
 * event time (the collector's receive time) lies in one of their windows
 * [sentAt, endedAt].
 */
export class ClickTraffic {
  readonly impressions: TrackedImpression[] = [];
  readonly stats: ClickTrafficStats = {
    sent: 0,
    answered302: 0,
    failed: 0,
    otherStatus: new Map(),
    errors: new Map(),
  };
  private readonly answered: TrackedImpression[] = [];
  private readonly pool: TrackedImpression[] = [];
  private target: Target | undefined;
  private waiters: ((target: Target | undefined) => void)[] = [];
  private stopping = false;
  private loops: Promise<void>[] = [];
  private seq = 0;

  constructor(
    private readonly ads: readonly number[],
    private readonly random: () => number,
    private readonly options: ClickTrafficOptions,
    private readonly prefix = 'crash',
  ) {}

  /** Points the traffic at a (new) server. */
  attach(url: string): void {
    this.target = { url, agent: new Agent({ keepAlive: true, maxSockets: this.options.concurrency }) };
    for (const wake of this.waiters.splice(0)) wake(this.target);
  }

  /**
   * Stops sending to the current server; call it in the same tick as the kill
   * so no loop spins on refused connections. Destroy the returned agent once
   * the process is gone.
   */
  detach(): Agent | undefined {
    const agent = this.target?.agent;
    this.target = undefined;
    return agent;
  }

  start(): void {
    this.loops = Array.from({ length: this.options.concurrency }, () => this.loop());
  }

  /** Lets in-flight requests finish and stops the loops. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const wake of this.waiters.splice(0)) wake(undefined);
    await Promise.all(this.loops);
  }

  /** Retries every impression that never got a 302 until it gets one (with `concurrency` clients). */
  async retryUnanswered(maxAttemptsEach = 20): Promise<void> {
    const target = this.target;
    if (target === undefined) throw new Error('no server attached');
    const work = async (): Promise<void> => {
      for (let imp = this.pool.shift(); imp !== undefined; imp = this.pool.shift()) {
        // Held by this client (queued stays true): a failed attempt must not put it back in the pool.
        for (let i = 0; imp.first302 === undefined; i++) {
          if (i >= maxAttemptsEach) throw new Error(`${imp.imp}: no 302 after ${i} retries`);
          if (!(await this.attempt(target, imp))) await sleep(20);
        }
        imp.queued = false;
      }
    };
    await Promise.all(Array.from({ length: this.options.concurrency }, work));
  }

  /** Impressions without a 302 so far. */
  unansweredCount(): number {
    return this.impressions.filter((i) => i.first302 === undefined).length;
  }

  destroyAgent(): void {
    this.target?.agent.destroy();
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const target = this.target ?? (await new Promise<Target | undefined>((r) => this.waiters.push(r)));
      if (target === undefined || this.stopping) return;
      const ok = await this.attempt(target, this.pick());
      // A failure while the same server is still attached (a keep-alive race): breathe, do not spin.
      if (!ok && this.target === target) await sleep(5);
    }
  }

  private pick(): TrackedImpression {
    const r = this.random();
    if (r < this.options.duplicateShare && this.answered.length > 0) {
      return this.answered[Math.floor(this.random() * this.answered.length)]!;
    }
    if (r < this.options.duplicateShare + this.options.retryShare && this.pool.length > 0) {
      const [imp] = this.pool.splice(Math.floor(this.random() * this.pool.length), 1);
      imp!.queued = false;
      return imp!;
    }
    const ad = this.ads[Math.floor(this.random() * this.ads.length)]!;
    const imp = `${this.prefix}_${ad}_${String(this.seq++).padStart(6, '0')}`;
    const tracked: TrackedImpression = {
      imp,
      ad,
      query: tokenQuery(ad, imp),
      attempts: [],
      first302: undefined,
      queued: false,
    };
    this.impressions.push(tracked);
    return tracked;
  }

  /** One request; true when answered 302. */
  private async attempt(target: Target, imp: TrackedImpression): Promise<boolean> {
    const afterFirst302 = imp.first302 !== undefined;
    const sentAt = Date.now();
    this.stats.sent++;
    const { status, error } = await this.send(target, imp.query);
    const attempt: ClickAttempt = { sentAt, endedAt: Date.now(), status, error, afterFirst302 };
    imp.attempts.push(attempt);
    if (status === 302) {
      this.stats.answered302++;
      if (imp.first302 === undefined) {
        imp.first302 = attempt;
        this.answered.push(imp);
      }
      return true;
    }
    if (status !== undefined)
      this.stats.otherStatus.set(status, (this.stats.otherStatus.get(status) ?? 0) + 1);
    else {
      this.stats.failed++;
      const code = error ?? 'unknown';
      this.stats.errors.set(code, (this.stats.errors.get(code) ?? 0) + 1);
    }
    if (imp.first302 === undefined && !imp.queued) {
      imp.queued = true;
      this.pool.push(imp);
    }
    return false;
  }

  private send(target: Target, query: string): Promise<{ status?: number; error?: string }> {
    return new Promise((done) => {
      let settled = false;
      const settle = (result: { status?: number; error?: string }): void => {
        if (settled) return;
        settled = true;
        done(result);
      };
      const req = request(
        `${target.url}/click?${query}`,
        {
          agent: target.agent,
          headers: { 'user-agent': CHROME_UA },
          timeout: this.options.requestTimeoutMs ?? 15_000,
        },
        (res) => {
          // The 302 is written only after the event is durable: its status line is the acknowledgement.
          settle({ status: res.statusCode ?? 0 });
          res.on('error', () => undefined);
          res.resume();
        },
      );
      req.on('timeout', () => {
        settle({ error: 'timeout' });
        req.destroy();
      });
      req.on('error', (err: NodeJS.ErrnoException) => settle({ error: err.code ?? err.message }));
      req.end();
    });
  }
}
