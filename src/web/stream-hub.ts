import type { ServerResponse } from 'node:http';
import type { BucketCounts } from '../aggregate/counts.js';
import { isZeroCounts } from '../aggregate/counts.js';
import type { Principal } from '../catalog/catalog.js';
import type { MinuteDelta } from '../store/aggregate-store.js';
import { HttpError } from './http-io.js';

/** The bounds of the Server-Sent Events fan-out (SPEC 3.5, docs/DASHBOARD.md). */
export interface StreamLimits {
  /** Subscribers held at once; the next gets 503. */
  readonly maxClients: number;
  /**
   * Bytes a subscriber may have waiting in its socket's buffer. Past it the
   * subscriber is lagging: its events are no longer written but coalesced into
   * one `resync` event sent once the socket drains.
   */
  readonly queueBytes: number;
  /** A lagging subscriber whose socket has not drained after this long is cut. */
  readonly stuckMs: number;
  /** A comment line this often, so proxies and the client see a live stream. */
  readonly heartbeatMs: number;
  /** Changed (ad, minute) pairs per event at most; a commit touching more is sent as several events. */
  readonly changesPerEvent: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  maxClients: 1_000,
  queueBytes: 256 * 1024,
  stuckMs: 30_000,
  heartbeatMs: 15_000,
  changesPerEvent: 2_000,
};

/** One commit as the stream tells it: the offset, the watermark after it, and what it added. */
export interface StreamCommit {
  /** The log offset the counts include; null where there is no single one (`adtally api`: one per partition). */
  readonly offset: number | null;
  readonly watermark: number | undefined;
  readonly deltas: readonly MinuteDelta[];
}

interface Subscriber {
  readonly res: ServerResponse;
  /** Undefined for the admin: every ad. */
  readonly advertiserId: number | undefined;
  lagging: boolean;
  stuckTimer: NodeJS.Timeout | undefined;
  /** False until its hello is written: nothing else is written before. */
  ready: boolean;
}

export interface StreamStats {
  readonly clients: number;
  readonly eventsSent: number;
  readonly resyncs: number;
  readonly dropped: number;
}

/**
 * Fans each aggregation commit out to the subscribers whose ads it touched.
 * Memory is bounded by maxClients x queueBytes: a subscriber that reads slower
 * than commits arrive never makes us buffer more, it gets one `resync` (refetch
 * what you show) when it catches up, or is cut when it does not.
 */
export class StreamHub {
  private readonly subscribers = new Set<Subscriber>();
  private readonly heartbeat: NodeJS.Timeout;
  private closed = false;
  /** Run between a subscriber's arrival and its hello (see primeWith). */
  private prime: () => Promise<void> = () => Promise.resolve();
  private eventsSent = 0;
  private resyncs = 0;
  private dropped = 0;

  constructor(
    /** The advertiser owning an ad; undefined for an ad the catalog does not know. */
    private readonly ownerOf: (ad: number) => number | undefined,
    private readonly limits: StreamLimits = DEFAULT_STREAM_LIMITS,
  ) {
    this.heartbeat = setInterval(() => this.beat(), limits.heartbeatMs);
    this.heartbeat.unref();
  }

  stats(): StreamStats {
    const { eventsSent, resyncs, dropped } = this;
    return { clients: this.subscribers.size, eventsSent, resyncs, dropped };
  }

  /** The fan-out's figures as Prometheus text, appended to /metrics. */
  metricsText(): string {
    const { clients, eventsSent, resyncs, dropped } = this.stats();
    return [
      '# HELP adtally_stream_clients Open /api/v1/stream subscribers.',
      '# TYPE adtally_stream_clients gauge',
      `adtally_stream_clients ${clients}`,
      '# HELP adtally_stream_events_total Commit events written to subscribers.',
      '# TYPE adtally_stream_events_total counter',
      `adtally_stream_events_total ${eventsSent}`,
      '# HELP adtally_stream_resyncs_total Resync events sent to subscribers that fell behind (their missed events coalesced).',
      '# TYPE adtally_stream_resyncs_total counter',
      `adtally_stream_resyncs_total ${resyncs}`,
      '# HELP adtally_stream_dropped_total Subscribers cut because their socket did not drain in time.',
      '# TYPE adtally_stream_dropped_total counter',
      `adtally_stream_dropped_total ${dropped}`,
      '',
    ].join('\n');
  }

  /**
   * Makes every new subscriber wait for `prime` before its hello: where
   * changes are found by comparing reads (adtally api), the new subscriber's
   * ads must be in the baseline before it is told the stream is on, or a
   * commit landing in between would be taken for the baseline and never sent.
   */
  primeWith(prime: () => Promise<void>): void {
    this.prime = prime;
  }

  /**
   * Holds `res` open as an event stream for `principal` until the client or
   * close() ends it. The headers and the hello are written once the stream
   * is primed: from then on, every change to the principal's ads is sent.
   */
  async subscribe(res: ServerResponse, principal: Principal): Promise<void> {
    if (this.closed) throw new HttpError(503, 'shutting_down', 'the server is shutting down');
    if (this.subscribers.size >= this.limits.maxClients) {
      throw new HttpError(
        503,
        'too_many_streams',
        `${this.limits.maxClients} streams are open, the most this server holds; retry later`,
        { 'retry-after': '5' },
      );
    }
    const sub: Subscriber = {
      res,
      advertiserId: principal.kind === 'admin' ? undefined : principal.advertiserId,
      lagging: false,
      stuckTimer: undefined,
      ready: false,
    };
    this.subscribers.add(sub);
    res.on('close', () => this.remove(sub));
    // Registered first, so the priming read covers this subscriber's ads.
    await this.prime().catch(() => undefined);
    if (!this.subscribers.has(sub) || res.destroyed) return;
    sub.ready = true;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      // A stream's connection ends with it: an idle keep-alive socket left after close() would hold
      // the listener's shutdown for its whole grace period.
      connection: 'close',
    });
    // A client reconnecting after a gap must refetch anyway, so no Last-Event-ID replay is kept.
    res.write(`retry: 2000\nevent: hello\ndata: {"heartbeatMs":${this.limits.heartbeatMs}}\n\n`);
    res.socket?.setNoDelay(true);
    res.on('drain', () => this.drained(sub));
  }

  /** Whose ads anyone watches: 'all' when the admin does, else the advertisers (empty: nobody). */
  watched(): 'all' | Set<number> {
    const advertisers = new Set<number>();
    for (const sub of this.subscribers) {
      if (sub.advertiserId === undefined) return 'all';
      advertisers.add(sub.advertiserId);
    }
    return advertisers;
  }

  /** Tells every subscriber to refetch: changes were missed (a failed read, a bound hit). */
  resyncAll(): void {
    for (const sub of this.subscribers) {
      if (sub.lagging || !sub.ready) continue;
      this.resyncs++;
      sub.res.write('event: resync\ndata: {}\n\n');
    }
  }

  /** Sends `commit` to every subscriber it concerns. Called on the thread that holds the sockets. */
  publish(commit: StreamCommit): void {
    if (this.subscribers.size === 0 || commit.deltas.length === 0) return;
    const byOwner = new Map<number, string[]>();
    const all: string[] = [];
    for (const delta of commit.deltas) {
      if (isZeroCounts(delta.counts)) continue;
      const owner = this.ownerOf(delta.ad);
      if (owner === undefined) continue;
      const change = changeJson(delta.ad, delta.minute, delta.counts);
      all.push(change);
      let list = byOwner.get(owner);
      if (list === undefined) byOwner.set(owner, (list = []));
      list.push(change);
    }
    const head = `{"offset":${commit.offset},"watermark":${
      commit.watermark === undefined ? 'null' : JSON.stringify(new Date(commit.watermark).toISOString())
    },"changes":[`;
    // Encoded once per advertiser, not once per subscriber.
    const encoded = new Map<number | undefined, string>();
    for (const sub of this.subscribers) {
      const changes = sub.advertiserId === undefined ? all : byOwner.get(sub.advertiserId);
      if (changes === undefined || changes.length === 0) continue;
      let text = encoded.get(sub.advertiserId);
      if (text === undefined) {
        text = this.events(head, changes);
        encoded.set(sub.advertiserId, text);
      }
      this.write(sub, text);
    }
  }

  /** Ends every stream (shutdown): the client sees the stream close and reconnects elsewhere. */
  close(): void {
    this.closed = true;
    clearInterval(this.heartbeat);
    for (const sub of this.subscribers) {
      if (sub.ready) sub.res.end('event: bye\ndata: {}\n\n');
      else sub.res.destroy();
      this.remove(sub);
    }
  }

  private events(head: string, changes: readonly string[]): string {
    let text = '';
    for (let at = 0; at < changes.length; at += this.limits.changesPerEvent) {
      const chunk = changes.slice(at, at + this.limits.changesPerEvent);
      text += `event: commit\ndata: ${head}${chunk.join(',')}]}\n\n`;
    }
    return text;
  }

  private write(sub: Subscriber, text: string): void {
    if (sub.lagging || !sub.ready) return;
    if (sub.res.writableLength + text.length > this.limits.queueBytes) {
      this.lag(sub);
      return;
    }
    sub.res.write(text);
    this.eventsSent++;
  }

  /** From now on this subscriber's events are coalesced into the resync it gets on drain. */
  private lag(sub: Subscriber): void {
    sub.lagging = true;
    sub.stuckTimer = setTimeout(() => {
      this.dropped++;
      sub.res.destroy();
    }, this.limits.stuckMs);
    sub.stuckTimer.unref();
    if (sub.res.writableLength === 0) this.drained(sub);
  }

  private drained(sub: Subscriber): void {
    if (!sub.lagging) return;
    sub.lagging = false;
    clearTimeout(sub.stuckTimer);
    sub.stuckTimer = undefined;
    this.resyncs++;
    sub.res.write('event: resync\ndata: {}\n\n');
  }

  private beat(): void {
    for (const sub of this.subscribers) if (!sub.lagging && sub.ready) sub.res.write(': heartbeat\n\n');
  }

  private remove(sub: Subscriber): void {
    clearTimeout(sub.stuckTimer);
    this.subscribers.delete(sub);
  }
}

function changeJson(ad: number, minute: number, counts: Readonly<BucketCounts>): string {
  return `{"ad":${ad},"minute":"${new Date(minute * 60_000).toISOString()}","counts":${JSON.stringify(counts)}}`;
}
