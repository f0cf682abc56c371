import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../catalog/catalog.js';
import { parseRange, type ReconcileRun } from '../reconcile/reconcile-runner.js';
import { requireAdmin } from './auth.js';
import { badRequest, HttpError, JSON_BODY_LIMIT, readBody, sendJson, utf8Text } from './http-io.js';

export interface AdminDeps {
  /** Runs a reconciliation in the process that owns the store (one at a time there). */
  readonly reconcile: (fromMinute: number, toMinute: number) => Promise<ReconcileRun>;
  readonly now: () => number;
}

/** Failures a caller can wait out: the archive behind the aggregation, a consumer that kept moving. */
const RETRIABLE = new Set([
  'ArchiveBehindError',
  'ArchiveFlushTimeoutError',
  'ReconcileRaceError',
  'ReconcileBusyError',
]);

/** `{from?, to?}`, or no body at all (the default range). */
async function rangeBody(req: IncomingMessage): Promise<{ from?: string; to?: string }> {
  const text = utf8Text(await readBody(req, JSON_BODY_LIMIT)).trim();
  if (text === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw badRequest('body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw badRequest('body must be a JSON object');
  const unknown = Object.keys(body).filter((k) => k !== 'from' && k !== 'to');
  if (unknown.length > 0) throw badRequest(`unknown field(s): ${unknown.join(', ')} (allowed: from, to)`);
  const { from, to } = body as Record<string, unknown>;
  for (const [name, value] of [
    ['from', from],
    ['to', to],
  ] as const) {
    if (value !== undefined && typeof value !== 'string')
      throw badRequest(`${name} must be an ISO 8601 string`);
  }
  return {
    ...(from === undefined ? {} : { from: from as string }),
    ...(to === undefined ? {} : { to: to as string }),
  };
}

/** Operations routes for the admin: `POST /api/v1/reconcile` (SPEC 4.5, `adtally reconcile` against a running serve). */
export function createAdminRoutes(deps: AdminDeps) {
  async function reconcile(req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> {
    requireAdmin(principal);
    const { from, to } = await rangeBody(req);
    const range = parseRange(from, to, deps.now());
    if (typeof range === 'string') throw badRequest(range);
    let run: ReconcileRun;
    try {
      run = await deps.reconcile(range.fromMinute, range.toMinute);
    } catch (err) {
      if (err instanceof Error && RETRIABLE.has(err.name)) {
        throw new HttpError(503, 'reconcile_unavailable', err.message, { 'retry-after': '10' });
      }
      throw err;
    }
    sendJson(res, 200, { report: run.report, file: run.file, table: run.table });
  }

  return { reconcile };
}
