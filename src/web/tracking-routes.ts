import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestPurpose, type RequestPurpose } from '../domain/outcome.js';
import { parseAdId, parseToken, signToken } from '../domain/token.js';
import { classifyUserAgent } from '../domain/user-agent.js';
import type { Catalog } from '../catalog/catalog.js';
import type { Collector, IncomingEvent } from '../ingest/collector.js';
import { MAX_BATCH_BYTES, parseBatch } from '../ingest/batch.js';
import type { Metrics } from '../metrics/metrics.js';
import { ByteBudget } from './byte-budget.js';
import { badRequest, HttpError, notFound, readBody, sendJson, utf8Text } from './http-io.js';

/** The smallest transparent GIF: 1x1, one transparent palette entry. */
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const PIXEL_HEADERS = {
  'content-type': 'image/gif',
  'content-length': String(PIXEL.length),
  'cache-control': 'no-store',
};
export const BATCH_BODY_LIMIT = MAX_BATCH_BYTES;
/** The answer to a speculative click: see `click` below. */
const SPECULATIVE_BODY = JSON.stringify({
  error: {
    code: 'speculative_request',
    message: 'a click is not followed on a prefetch or prerender; it is followed when it is made',
  },
});
const SPECULATIVE_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'content-length': String(Buffer.byteLength(SPECULATIVE_BODY)),
  'cache-control': 'no-store',
};

export interface TrackingDeps {
  readonly catalog: Catalog;
  readonly collector: Collector;
  readonly secret: Buffer;
  readonly clickTtlMs: number;
  readonly now: () => number;
  readonly metrics: Metrics;
  /**
   * The base of the URLs GET /ad hands out (absolute, no trailing slash), never
   * taken from the request's Host (SPEC 3.1). A function: the default names the
   * bound port, known only once the server listens.
   */
  readonly publicUrl: () => string;
  /** How many bytes of POST /events bodies may be in flight at once (memory bound). */
  readonly eventsInflightBytes: number;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Whether a request is a person's navigation, a HEAD or a browser's speculation. */
function purposeOf(req: IncomingMessage): RequestPurpose {
  return requestPurpose({
    method: req.method ?? 'GET',
    secPurpose: header(req, 'sec-purpose'),
    purpose: header(req, 'purpose'),
    xMoz: header(req, 'x-moz'),
  });
}

/** Reads the token and request facts shared by /impression and /click. */
function incomingFromQuery(
  req: IncomingMessage,
  type: 'impression' | 'click',
  query: URLSearchParams,
  purpose: RequestPurpose,
): IncomingEvent | undefined {
  const rawAd = query.get('ad');
  const ad = parseAdId(rawAd);
  if (ad === undefined) return undefined;
  const imp = query.get('imp');
  return {
    type,
    ad,
    token: parseToken({ ad, imp, ts: query.get('ts'), sig: query.get('sig') }),
    rawImp: imp ?? '',
    userAgent: classifyUserAgent(req.headers['user-agent']),
    prefetch: purpose !== 'navigation',
    clientIp: req.socket.remoteAddress ?? '',
    source: req.method === 'HEAD' ? 'head' : 'get',
  };
}

export function createTrackingRoutes(deps: TrackingDeps) {
  const { catalog, collector, metrics } = deps;
  const eventsBudget = new ByteBudget(deps.eventsInflightBytes);

  /**
   * GET|HEAD /impression: the pixel, always, once the event (if any) is durable;
   * a speculative fetch too (SPEC 3.1: "whatever the token's fate"), recorded as
   * prefetch. A pixel is no navigation, so answering it cannot swallow a click.
   */
  async function impression(
    req: IncomingMessage,
    res: ServerResponse,
    query: URLSearchParams,
  ): Promise<void> {
    const incoming = incomingFromQuery(req, 'impression', query, purposeOf(req));
    if (incoming === undefined) metrics.recordEvent('impression', 'malformed');
    else await collector.record(incoming);
    res.writeHead(200, PIXEL_HEADERS);
    res.end(req.method === 'HEAD' ? undefined : PIXEL);
  }

  /**
   * GET|HEAD /click: 302 to the catalog's URL (never 301, never a URL from the
   * request). A speculative request (prefetch, prerender) is recorded as
   * prefetch and answered 503, never the 302: Chromium shows a speculated
   * redirect's landing page from its cache when the person then clicks, and
   * that click would never reach us; a 503 makes it drop the speculation.
   */
  async function click(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    const purpose = purposeOf(req);
    const incoming = incomingFromQuery(req, 'click', query, purpose);
    if (incoming === undefined) {
      metrics.recordEvent('click', 'malformed');
      throw badRequest('ad must be a positive integer');
    }
    const { ad } = await collector.record(incoming);
    if (ad === undefined)
      throw new HttpError(404, 'unknown_ad', `ad ${incoming.ad} does not exist`, {
        'cache-control': 'no-store',
      });
    if (purpose === 'speculative') {
      res.writeHead(503, SPECULATIVE_HEADERS);
      res.end(req.method === 'HEAD' ? undefined : SPECULATIVE_BODY);
      return;
    }
    res.writeHead(302, { location: ad.targetUrl, 'cache-control': 'no-store', 'content-length': '0' });
    res.end();
  }

  /**
   * POST /events: NDJSON batch; 202 once every accepted line is durable. The
   * body's bytes are covered by the in-flight budget before they are read and
   * until the answer is out (the parsed lines live that long); past it, 503.
   */
  async function events(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reservation = eventsBudget.open();
    try {
      const body = utf8Text(await readBody(req, BATCH_BODY_LIMIT, reservation));
      const { accepted, rejected } = parseBatch(body, {
        lookupAd: (id) => catalog.adById(id),
        now: deps.now(),
        clickTtlMs: deps.clickTtlMs,
        clientIp: req.socket.remoteAddress ?? '',
      });
      // All lines go into the same group commit: one fsync for the whole batch.
      await Promise.all(accepted.map((event) => collector.record(event)));
      metrics.batchLines.labels('accepted').inc(accepted.length);
      metrics.batchLines.labels('rejected').inc(rejected.length);
      sendJson(
        res,
        202,
        { accepted: accepted.length, rejected: rejected.length, errors: rejected.slice(0, 20) },
        { 'cache-control': 'no-store' },
      );
    } finally {
      reservation.release();
    }
  }

  /** GET /ad: a fresh signed token for one active ad. */
  function ad(_req: IncomingMessage, res: ServerResponse, query: URLSearchParams): void {
    const rawCampaign = query.get('campaign');
    const campaignId = rawCampaign === null ? undefined : parseAdId(rawCampaign);
    if (rawCampaign !== null && campaignId === undefined)
      throw badRequest('campaign must be a positive integer');
    const chosen = catalog.pickActiveAd(campaignId);
    if (chosen === undefined)
      throw notFound(campaignId === undefined ? 'no active ad' : `no active ad in campaign ${campaignId}`);
    const token = signToken(
      deps.secret,
      chosen.id,
      randomBytes(16).toString('base64url'),
      Math.floor(deps.now() / 1000),
    );
    const base = deps.publicUrl();
    const params = new URLSearchParams({
      ad: String(token.ad),
      imp: token.imp,
      ts: String(token.ts),
      sig: token.sig,
    });
    sendJson(
      res,
      200,
      { ...token, impressionUrl: `${base}/impression?${params}`, clickUrl: `${base}/click?${params}` },
      { 'cache-control': 'no-store' },
    );
  }

  return { impression, click, events, ad };
}
