import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isPrefetch } from '../domain/outcome.js';
import { parseAdId, parseToken, signToken } from '../domain/token.js';
import { classifyUserAgent } from '../domain/user-agent.js';
import type { Catalog } from '../catalog/catalog.js';
import type { Collector, IncomingEvent } from '../ingest/collector.js';
import { parseBatch } from '../ingest/batch.js';
import type { Metrics } from '../metrics/metrics.js';
import { badRequest, HttpError, notFound, readBody, sendJson } from './http-io.js';

/** The smallest transparent GIF: 1x1, one transparent palette entry. */
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const PIXEL_HEADERS = {
  'content-type': 'image/gif',
  'content-length': String(PIXEL.length),
  'cache-control': 'no-store',
};
export const BATCH_BODY_LIMIT = 1024 * 1024;
const HOST_PATTERN = /^[A-Za-z0-9.\-:[\]]{1,255}$/;

export interface TrackingDeps {
  readonly catalog: Catalog;
  readonly collector: Collector;
  readonly secret: Buffer;
  readonly clickTtlMs: number;
  readonly now: () => number;
  readonly metrics: Metrics;
  /** host:port to build absolute URLs with when the Host header is unusable. */
  readonly publicHost: string;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Reads the token and request facts shared by /impression and /click. */
function incomingFromQuery(
  req: IncomingMessage,
  type: 'impression' | 'click',
  query: URLSearchParams,
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
    prefetch: isPrefetch({
      method: req.method ?? 'GET',
      secPurpose: header(req, 'sec-purpose'),
      purpose: header(req, 'purpose'),
      xMoz: header(req, 'x-moz'),
    }),
    clientIp: req.socket.remoteAddress ?? '',
    source: req.method === 'HEAD' ? 'head' : 'get',
  };
}

export function createTrackingRoutes(deps: TrackingDeps) {
  const { catalog, collector, metrics } = deps;

  /** GET|HEAD /impression: the pixel, always, once the event (if any) is durable. */
  async function impression(
    req: IncomingMessage,
    res: ServerResponse,
    query: URLSearchParams,
  ): Promise<void> {
    const incoming = incomingFromQuery(req, 'impression', query);
    if (incoming === undefined) metrics.recordEvent('impression', 'malformed');
    else await collector.record(incoming);
    res.writeHead(200, PIXEL_HEADERS);
    res.end(req.method === 'HEAD' ? undefined : PIXEL);
  }

  /** GET|HEAD /click: 302 to the catalog's URL (never 301, never a URL from the request). */
  async function click(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    const incoming = incomingFromQuery(req, 'click', query);
    if (incoming === undefined) {
      metrics.recordEvent('click', 'malformed');
      throw badRequest('ad must be a positive integer');
    }
    const { ad } = await collector.record(incoming);
    if (ad === undefined)
      throw new HttpError(404, 'unknown_ad', `ad ${incoming.ad} does not exist`, {
        'cache-control': 'no-store',
      });
    res.writeHead(302, { location: ad.targetUrl, 'cache-control': 'no-store', 'content-length': '0' });
    res.end();
  }

  /** POST /events: NDJSON batch; 202 once every accepted line is durable. */
  async function events(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req, BATCH_BODY_LIMIT);
    const { accepted, rejected } = parseBatch(body.toString('utf8'), {
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
  }

  /** GET /ad: a fresh signed token for one active ad. */
  function ad(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): void {
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
    const hostHeader = req.headers.host;
    const base = `http://${hostHeader !== undefined && HOST_PATTERN.test(hostHeader) ? hostHeader : deps.publicHost}`;
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
