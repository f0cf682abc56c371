import type { IncomingMessage, ServerResponse } from 'node:http';
import { canSee, type Catalog, type Principal } from '../catalog/catalog.js';
import { BUCKET_MINUTES, parseSeriesRange, rangeBounds, type SeriesRange } from '../query/series.js';
import { seriesJson } from '../query/series-json.js';
import type { AggregateQueries } from '../store/aggregate-store.js';
import { badRequest, HttpError, notFound, sendJson, sendJsonBytes } from './http-io.js';

export interface QueryDeps {
  readonly catalog: Catalog;
  readonly store: AggregateQueries;
  /** The watermark of the counts the store holds (committed), ms; undefined before any event. */
  readonly watermark: () => number | undefined;
  /**
   * For `consistent=true`: resolves true once the counts include every event
   * acknowledged before the call, false when that took too long.
   */
  readonly awaitAcknowledged: () => Promise<boolean>;
  readonly now: () => number;
}

/**
 * `consistent=true` (SPEC 3.3): wait until the aggregation committed past the
 * log position seen on arrival, so the answer holds every acknowledged event;
 * 503 when that takes longer than the wait allows. Any other value is a 400.
 */
async function readYourAcks(query: URLSearchParams, deps: QueryDeps): Promise<void> {
  const consistent = query.get('consistent');
  if (consistent === null || consistent === 'false') return;
  if (consistent !== 'true') throw badRequest('consistent must be true or false');
  if (!(await deps.awaitAcknowledged())) {
    throw new HttpError(
      503,
      'not_consistent_yet',
      'the aggregation did not commit every acknowledged event within 1 s; retry',
      { 'retry-after': '1' },
    );
  }
}

function rangeOf(query: URLSearchParams, now: number): SeriesRange {
  const range = parseSeriesRange(query, now);
  if (typeof range === 'string') throw badRequest(range);
  return range;
}

const TOP_BY = new Set(['clicks', 'impressions', 'ctr']);

/** The query API of SPEC 3.3; an advertiser's key sees only its own ads and campaigns (404 otherwise). */
export function createQueryRoutes(deps: QueryDeps) {
  const { catalog, store } = deps;

  async function answerSeries(
    res: ServerResponse,
    subject: Record<string, number>,
    ads: readonly number[],
    query: URLSearchParams,
  ): Promise<void> {
    const range = rangeOf(query, deps.now());
    await readYourAcks(query, deps);
    // Read the watermark before the counts: counts committed later only make "final" more conservative.
    const watermark = deps.watermark();
    const [rows, late] = await Promise.all([
      store.series(ads, range.fromMinute, range.toMinute, BUCKET_MINUTES[range.granularity]),
      store.lateTotals(ads, range.fromMinute, range.toMinute),
    ]);
    const head = {
      ...subject,
      granularity: range.granularity,
      ...rangeBounds(range),
      watermark: watermark === undefined ? null : new Date(watermark).toISOString(),
    };
    // The same text as JSON.stringify({...head, ...buildSeries(range, rows, watermark, late)}), written faster.
    const answer = seriesJson(head, range, rows, watermark, late);
    sendJsonBytes(res, 200, answer.body, answer.release);
  }

  async function adAggregates(
    _req: IncomingMessage,
    res: ServerResponse,
    principal: Principal,
    id: number,
    query: URLSearchParams,
  ): Promise<void> {
    const ad = catalog.adById(id);
    if (ad === undefined || !canSee(principal, ad.advertiserId)) throw notFound(`ad ${id} does not exist`);
    await answerSeries(res, { ad: id }, [id], query);
  }

  async function campaignAggregates(
    _req: IncomingMessage,
    res: ServerResponse,
    principal: Principal,
    id: number,
    query: URLSearchParams,
  ): Promise<void> {
    const campaign = await catalog.getCampaign(id);
    if (campaign === undefined || !canSee(principal, campaign.advertiserId)) {
      throw notFound(`campaign ${id} does not exist`);
    }
    const ads = catalog.adsOfCampaign(id).map((ad) => ad.id);
    await answerSeries(res, { campaign: id }, ads, query);
  }

  async function top(
    _req: IncomingMessage,
    res: ServerResponse,
    principal: Principal,
    query: URLSearchParams,
  ) {
    const range = rangeOf(query, deps.now());
    const by = query.get('by') ?? 'clicks';
    if (!TOP_BY.has(by)) throw badRequest('by must be clicks, impressions or ctr');
    const rawLimit = query.get('limit') ?? '10';
    if (!/^\d{1,3}$/.test(rawLimit) || Number(rawLimit) < 1 || Number(rawLimit) > 100) {
      throw badRequest('limit must be an integer from 1 to 100');
    }
    const ads = principal.kind === 'admin' ? undefined : catalog.listAds(principal).map((ad) => ad.id);
    await readYourAcks(query, deps);
    const rows = await store.top(ads, range.fromMinute, range.toMinute, by as 'clicks', Number(rawLimit));
    sendJson(res, 200, {
      ...rangeBounds(range),
      by,
      ads: rows.map((r) => ({ ...r, ctr: r.impressions === 0 ? 0 : r.clicks / r.impressions })),
    });
  }

  return { adAggregates, campaignAggregates, top };
}
