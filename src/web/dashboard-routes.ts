import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Principal } from '../catalog/catalog.js';
import { ConfigError } from '../config/settings.js';
import { planCapacity, PlanInputError } from '../plan/capacity-plan.js';
import { FIGURE_MEANING, readMeasuredFigures, type MeasuredFigures } from '../plan/measured-figures.js';
import { parsePlanOptions } from '../plan/plan-config.js';
import { badRequest, HttpError, sendJson } from './http-io.js';
import type { StreamHub } from './stream-hub.js';

/** The bench results shipped with the package: what `adtally plan` reads when run from the repo. */
export const SHIPPED_RESULTS_DIR = fileURLToPath(new URL('../../../bench/results/', import.meta.url));

/** The lab's inputs, named as `adtally plan`'s flags; `--results` is not among them (no path from a request). */
const PLAN_QUERY_FLAGS = new Set([
  'events-per-second',
  'peak',
  'payload-bytes',
  'ads',
  'hot-share',
  'queries-per-second',
  'freshness-ms',
  'retention-raw',
  'retention-aggregates',
  'availability',
]);

export interface DashboardDeps {
  /** The commit fan-out of /api/v1/stream; undefined where the process has none (the route answers 404). */
  readonly stream?: StreamHub;
  readonly resultsDir?: string;
}

/** The routes the dashboard needs besides the query API: who am I, the live stream, the lab's plan. */
export function createDashboardRoutes(deps: DashboardDeps) {
  let figures: Promise<MeasuredFigures> | undefined;

  /** `GET /api/v1/me`: what the signed-in token is, so the page shows the admin's view or the advertiser's. */
  function me(_req: IncomingMessage, res: ServerResponse, principal: Principal): void {
    sendJson(res, 200, principal);
  }

  /** `GET /api/v1/stream` (SPEC 3.5): one event per commit that touched the caller's ads. */
  async function stream(_req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> {
    if (deps.stream === undefined) {
      throw new HttpError(404, 'not_found', 'this process has no live stream (see docs/DASHBOARD.md)');
    }
    await deps.stream.subscribe(res, principal);
  }

  /**
   * `GET /api/v1/plan?events-per-second=...`: the capacity plan of `adtally
   * plan` (same parser, same model, same figures) as JSON, for the lab page.
   * No data of anyone is in it, so it needs no token.
   */
  async function plan(_req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    const argv: string[] = [];
    for (const [key, value] of query) {
      if (!PLAN_QUERY_FLAGS.has(key)) throw badRequest(`unknown plan input ${key}`);
      argv.push(`--${key}`, value);
    }
    let answer;
    figures ??= readMeasuredFigures(deps.resultsDir ?? SHIPPED_RESULTS_DIR);
    const measured = await figures;
    try {
      const options = parsePlanOptions(argv);
      if (options === 'help') throw badRequest('help is not a plan input');
      answer = {
        inputs: options.inputs,
        plan: planCapacity(options.inputs, measured),
        figures: measured,
        meanings: FIGURE_MEANING,
      };
    } catch (err) {
      if (err instanceof ConfigError || err instanceof PlanInputError) throw badRequest(err.message);
      throw err;
    }
    sendJson(res, 200, answer);
  }

  return { me, stream, plan };
}
