import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import {
  EXPORT_RANGE,
  parseAnalyticsRange,
  SQL_RANGE,
  type AnalyticsRange,
  type RangeRules,
} from '../analytics/analytics-range.js';
import { AnalyticsRefusal } from '../analytics/analytics-refusal.js';
import { ArchiveExporter } from '../analytics/export.js';
import type { AnalyticsScope, ViewSources } from '../analytics/sandbox-views.js';
import { ChunkAnswer, TextAnswer, writeParquet, type SqlFormat } from '../analytics/sql-answer.js';
import type { SqlLimits } from '../analytics/sql-limits.js';
import { SqlSandbox } from '../analytics/sql-sandbox.js';
import type { Catalog, Principal } from '../catalog/catalog.js';
import { badRequest, HttpError, notFound, readJsonObject, sendJsonBytes } from './http-io.js';

export interface AnalyticsDeps {
  readonly catalog: Catalog;
  /** The serving store's minutes, packed (in serve, as the aggregation thread sends them). */
  readonly minuteRows: ViewSources['minuteRows'];
  /** The archive's root directory. */
  readonly archiveRoot: string;
  /** Where Parquet answers and exports are written before they are sent (under the data dir). */
  readonly tmpDir: string;
  readonly limits: SqlLimits;
  readonly now: () => number;
}

const SQL_FIELDS = new Set(['sql', 'from', 'to']);

/** The temporary files' folder under a data directory. */
export const analyticsTmpDir = (dataDir: string): string => join(dataDir, 'tmp', 'analytics');

function asHttp(err: unknown): unknown {
  return err instanceof AnalyticsRefusal
    ? new HttpError(err.status, err.code, err.message, err.status === 503 ? { 'retry-after': '1' } : {})
    : err;
}

function rangeOf(from: string | null, to: string | null, now: number, rules: RangeRules): AnalyticsRange {
  const range = parseAnalyticsRange(from, to, now, rules);
  if (typeof range === 'string') throw badRequest(range);
  return range;
}

function optionalString(body: Record<string, unknown>, field: string): string | null {
  const value = body[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw badRequest(`${field} must be an ISO 8601 instant string`);
  return value;
}

/** The caller's scope: the admin sees every ad, an advertiser the catalog's ads of its own. */
function scopeOf(catalog: Catalog, principal: Principal): AnalyticsScope {
  if (principal.kind === 'admin') return principal;
  const ads = catalog.listAds(principal).map((ad) => ad.id);
  return { kind: 'advertiser', advertiserId: principal.advertiserId, ads };
}

async function sendFile(res: ServerResponse, path: string, type: string, filename: string): Promise<void> {
  try {
    const { size } = await stat(path);
    res.writeHead(200, {
      'content-type': type,
      'content-length': size,
      'content-disposition': `attachment; filename="${filename}"`,
    });
    await pipeline(createReadStream(path), res);
  } finally {
    await rm(path, { force: true });
  }
}

/** `POST /api/v1/sql` and `GET /api/v1/export` (SPEC 3.5): see analytics/ and docs/BATCH.md. */
export function createAnalyticsRoutes(deps: AnalyticsDeps) {
  const { catalog, limits } = deps;
  const sandbox = new SqlSandbox(
    {
      minuteRows: deps.minuteRows,
      adOwner: (id) => {
        const ad = catalog.adById(id);
        return ad === undefined ? undefined : { campaign: ad.campaignId, advertiser: ad.advertiserId };
      },
      archiveRoot: deps.archiveRoot,
    },
    limits,
  );
  const exporter = new ArchiveExporter(deps.archiveRoot, deps.tmpDir, limits);

  async function sql(
    req: IncomingMessage,
    res: ServerResponse,
    principal: Principal,
    query: URLSearchParams,
  ): Promise<void> {
    const format = query.get('format') ?? 'json';
    if (format !== 'json' && format !== 'csv' && format !== 'parquet') {
      throw badRequest('format must be json, csv or parquet');
    }
    const body = await readJsonObject(req);
    const unknown = Object.keys(body).filter((k) => !SQL_FIELDS.has(k));
    if (unknown.length > 0)
      throw badRequest(`unknown field(s): ${unknown.join(', ')} (allowed: sql, from, to)`);
    if (typeof body.sql !== 'string' || body.sql.trim() === '')
      throw badRequest('sql must be a non-empty string');
    const range = rangeOf(optionalString(body, 'from'), optionalString(body, 'to'), deps.now(), SQL_RANGE);
    const scope = scopeOf(catalog, principal);
    try {
      await answerSql(res, scope, body.sql, range, format);
    } catch (err) {
      throw asHttp(err);
    }
  }

  async function answerSql(
    res: ServerResponse,
    scope: AnalyticsScope,
    text: string,
    range: AnalyticsRange,
    format: SqlFormat,
  ): Promise<void> {
    if (format === 'parquet') {
      const answer = new ChunkAnswer();
      const result = await sandbox.run(scope, text, range, answer.sink);
      const path = await writeParquet(result, answer.chunks, deps.tmpDir, limits.memoryMb);
      await sendFile(res, path, 'application/vnd.apache.parquet', 'adtally-sql.parquet');
      return;
    }
    const answer = new TextAnswer(format);
    const result = await sandbox.run(scope, text, range, answer.sink);
    const bytes = answer.body(result);
    if (format === 'json') {
      sendJsonBytes(res, 200, bytes);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8', 'content-length': bytes.length });
    res.end(bytes);
  }

  async function exportEvents(
    _req: IncomingMessage,
    res: ServerResponse,
    principal: Principal,
    query: URLSearchParams,
  ): Promise<void> {
    const format = query.get('format') ?? 'csv';
    if (format !== 'csv' && format !== 'parquet') throw badRequest('format must be csv or parquet');
    const range = rangeOf(query.get('from'), query.get('to'), deps.now(), EXPORT_RANGE);
    const ads = await exportedAds(principal, query.get('advertiser'));
    try {
      await exporter.send(res, { ads, range, format });
    } catch (err) {
      throw asHttp(err);
    }
  }

  /** The admin: every ad, or one advertiser's; an advertiser: its own (404 for another's id). */
  async function exportedAds(
    principal: Principal,
    raw: string | null,
  ): Promise<readonly number[] | undefined> {
    if (raw === null) return principal.kind === 'admin' ? undefined : scopeAds(principal);
    if (!/^[1-9]\d{0,9}$/.test(raw) || Number(raw) > 2_147_483_647) {
      throw badRequest('advertiser must be a positive integer id');
    }
    const id = Number(raw);
    const missing = notFound(`advertiser ${id} does not exist`);
    if (principal.kind === 'advertiser' && principal.advertiserId !== id) throw missing;
    if ((await catalog.getAdvertiser(id)) === undefined) throw missing;
    return scopeAds({ kind: 'advertiser', advertiserId: id });
  }

  const scopeAds = (principal: Principal): number[] => catalog.listAds(principal).map((ad) => ad.id);

  return { sql, exportEvents };
}
