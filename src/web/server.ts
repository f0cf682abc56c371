import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Catalog, Principal } from '../catalog/catalog.js';
import type { Metrics } from '../metrics/metrics.js';
import { authenticate } from './auth.js';
import type { createAdminRoutes } from './admin-routes.js';
import type { createAnalyticsRoutes } from './analytics-routes.js';
import type { createCatalogRoutes } from './catalog-routes.js';
import type { createDashboardRoutes } from './dashboard-routes.js';
import { failureResponse } from './failure.js';
import { HttpError, notFound, sendError, sendJson } from './http-io.js';
import { QueryParams } from './query-params.js';
import type { createQueryRoutes } from './query-routes.js';
import type { StaticFiles } from './static-files.js';
import type { createTrackingRoutes } from './tracking-routes.js';

export interface Readiness {
  /** Each dependency's check; all must pass for /readyz to answer 200. */
  readonly checks: Record<string, () => Promise<void>>;
  /**
   * Dependencies working in a degraded way while the process still serves
   * (a collector spilling to its local log): named in the answer, still 200.
   */
  readonly degraded?: () => Record<string, string | undefined>;
}

/**
 * What one process serves. `adtally serve` has every part; `collector` only
 * the tracking routes, `api` the catalog and queries, `worker` only the
 * operations routes (SPEC 5). A route of a missing part answers 404.
 */
export interface WebApp {
  readonly tracking?: ReturnType<typeof createTrackingRoutes>;
  /** The advertiser API: its routes, and the catalog and admin token that authenticate them. */
  readonly api?: AdvertiserApi;
  readonly metrics: Metrics;
  /** Metrics kept elsewhere (the aggregation thread's registry), appended to /metrics. */
  readonly moreMetrics?: () => Promise<string>;
  readonly readiness: Readiness;
  /** The dashboard's built files (docs/DASHBOARD.md): GET of any path no route has, outside /api/. */
  readonly ui?: StaticFiles;
}

export interface AdvertiserApi {
  readonly catalogRoutes: ReturnType<typeof createCatalogRoutes>;
  readonly queryRoutes: ReturnType<typeof createQueryRoutes>;
  /** Operations for the admin (reconciliation); absent where the process cannot run them. */
  readonly adminRoutes?: ReturnType<typeof createAdminRoutes>;
  /** Analytical SQL and export (SPEC 3.5), where the process can reach the archive. */
  readonly analyticsRoutes?: ReturnType<typeof createAnalyticsRoutes>;
  readonly catalog: Catalog;
  readonly adminToken: string;
  /** /api/v1/me, /api/v1/stream and /api/v1/plan, for the dashboard. */
  readonly dashboardRoutes?: ReturnType<typeof createDashboardRoutes>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, query: URLSearchParams) => Promise<void> | void;
type AuthedHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  principal: Principal,
  query: URLSearchParams,
) => Promise<void> | void;

interface Route {
  /** Fixed label for metrics: never the raw path, which would explode cardinality. */
  readonly name: string;
  readonly methods: Record<string, Handler>;
}

const AD_PATH = /^\/api\/v1\/ads\/([1-9][0-9]{0,9})$/;
const ADVERTISER_KEY_PATH = /^\/api\/v1\/advertisers\/([1-9][0-9]{0,9})\/key$/;
const AGGREGATES_PATH = /^\/api\/v1\/(ads|campaigns)\/([1-9][0-9]{0,9})\/aggregates$/;

/** Adds the advertiser API's fixed routes to `routes`; returns the resolver of its routes with ids. */
function addApiRoutes(api: AdvertiserApi, routes: Map<string, Route>): (path: string) => Route | undefined {
  const { catalogRoutes: catalogR, queryRoutes } = api;
  const authed =
    (handler: AuthedHandler): Handler =>
    async (req, res, query) =>
      handler(req, res, await authenticate(req, api.adminToken, api.catalog), query);
  routes.set('/api/v1/advertisers', {
    name: 'advertisers',
    methods: { GET: authed(catalogR.listAdvertisers), POST: authed(catalogR.createAdvertiser) },
  });
  routes.set('/api/v1/campaigns', {
    name: 'campaigns',
    methods: { GET: authed(catalogR.listCampaigns), POST: authed(catalogR.createCampaign) },
  });
  routes.set('/api/v1/ads', {
    name: 'ads',
    methods: { GET: authed(catalogR.listAds), POST: authed(catalogR.createAd) },
  });
  routes.set('/api/v1/top', { name: 'top', methods: { GET: authed(queryRoutes.top) } });
  if (api.adminRoutes !== undefined) {
    routes.set('/api/v1/reconcile', {
      name: 'reconcile',
      methods: { POST: authed(api.adminRoutes.reconcile) },
    });
  }
  const analytics = api.analyticsRoutes;
  if (analytics !== undefined) {
    routes.set('/api/v1/sql', { name: 'sql', methods: { POST: authed(analytics.sql) } });
    routes.set('/api/v1/export', { name: 'export', methods: { GET: authed(analytics.exportEvents) } });
  }
  const dashboard = api.dashboardRoutes;
  if (dashboard !== undefined) {
    routes.set('/api/v1/me', { name: 'me', methods: { GET: authed(dashboard.me) } });
    routes.set('/api/v1/stream', { name: 'stream', methods: { GET: authed(dashboard.stream) } });
    routes.set('/api/v1/plan', { name: 'plan', methods: { GET: dashboard.plan } });
  }
  return (path): Route | undefined => {
    const adMatch = AD_PATH.exec(path);
    if (adMatch !== null) {
      const id = Number(adMatch[1]);
      return {
        name: 'ad_by_id',
        methods: {
          GET: authed((req, res, p) => catalogR.getAd(req, res, p, id)),
          PATCH: authed((req, res, p) => catalogR.patchAd(req, res, p, id)),
        },
      };
    }
    const keyMatch = ADVERTISER_KEY_PATH.exec(path);
    if (keyMatch !== null) {
      const id = Number(keyMatch[1]);
      return {
        name: 'advertiser_key',
        methods: { POST: authed((req, res, p) => catalogR.rotateKey(req, res, p, id)) },
      };
    }
    const aggMatch = AGGREGATES_PATH.exec(path);
    if (aggMatch !== null) {
      const id = Number(aggMatch[2]);
      const handler = aggMatch[1] === 'ads' ? queryRoutes.adAggregates : queryRoutes.campaignAggregates;
      return {
        name: `${aggMatch[1] === 'ads' ? 'ad' : 'campaign'}_aggregates`,
        methods: { GET: authed((req, res, p, q) => handler(req, res, p, id, q)) },
      };
    }
    return undefined;
  };
}

/** Builds the routing table and returns the node:http request listener. */
export function createRequestHandler(app: WebApp, isShuttingDown: () => boolean) {
  const { tracking, api, metrics } = app;
  metrics.watchReadiness(app.readiness.checks);
  const routes = new Map<string, Route>([
    ['/healthz', { name: 'healthz', methods: { GET: (_q, res) => sendJson(res, 200, { status: 'ok' }) } }],
    ['/readyz', { name: 'readyz', methods: { GET: (_q, res) => readyz(app.readiness, res) } }],
    ['/metrics', { name: 'metrics', methods: { GET: (_q, res) => sendMetrics(app, res) } }],
  ]);
  if (tracking !== undefined) {
    routes.set('/click', { name: 'click', methods: { GET: tracking.click, HEAD: tracking.click } });
    routes.set('/impression', {
      name: 'impression',
      methods: { GET: tracking.impression, HEAD: tracking.impression },
    });
    routes.set('/events', { name: 'events', methods: { POST: tracking.events } });
    routes.set('/ad', { name: 'ad', methods: { GET: tracking.ad } });
  }
  const resolveWithId = api === undefined ? () => undefined : addApiRoutes(api, routes);
  const ui = app.ui;
  const uiRoute: Route | undefined =
    ui === undefined
      ? undefined
      : {
          name: 'ui',
          methods: {
            GET: (req, res) => ui.serve(req, res, req.url ?? '/'),
            HEAD: (req, res) => ui.serve(req, res, req.url ?? '/'),
          },
        };
  const resolve = (path: string): Route | undefined =>
    routes.get(path) ??
    resolveWithId(path) ??
    // The page's own paths; an unknown /api/ path stays a JSON 404.
    (path.startsWith('/api/') ? undefined : uiRoute);

  return function handle(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    // Parsed on demand (src/web/query-params.ts): a click reads four plain values.
    const query = new QueryParams(q === -1 ? '' : url.slice(q + 1));
    const route = resolve(path);
    const routeName = route?.name ?? 'unknown';
    if (isShuttingDown()) res.setHeader('connection', 'close');
    const run = async (): Promise<void> => {
      if (route === undefined) throw notFound(`no route for ${path}`);
      const handler = route.methods[req.method ?? 'GET'];
      if (handler === undefined) {
        const allow = Object.keys(route.methods).join(', ');
        throw new HttpError(
          405,
          'method_not_allowed',
          `${req.method} is not allowed here (allowed: ${allow})`,
          {
            allow,
          },
        );
      }
      await handler(req, res, query);
    };
    // Every handler has written its whole answer when its promise settles, so the request is
    // recorded here rather than from a 'finish' listener (measured: a listener per request
    // costs the click path about 5 % of its throughput).
    const record = (): void =>
      metrics.recordRequest(routeName, res.statusCode, (performance.now() - started) / 1000);
    run().then(record, (err: unknown) => {
      answerFailure(res, err);
      record();
    });
  };
}

function answerFailure(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { error, logged } = failureResponse(err);
  if (logged) console.error('adtally: request failed:', err);
  // The client is gone (it reset or closed mid-body): nothing can be sent, but the request is
  // still counted, as the status it ended with (499 for a client that closed).
  if (res.destroyed) {
    res.statusCode = error.status;
    return;
  }
  sendError(res, error);
}

async function readyz(readiness: Readiness, res: ServerResponse): Promise<void> {
  const results: Record<string, string> = {};
  let ok = true;
  for (const [name, check] of Object.entries(readiness.checks)) {
    try {
      await check();
      results[name] = 'ok';
    } catch (err) {
      ok = false;
      results[name] = (err as Error).message;
    }
  }
  const degraded = Object.entries(readiness.degraded?.() ?? {}).filter(([, why]) => why !== undefined);
  if (!ok) sendJson(res, 503, { status: 'not_ready', checks: results });
  else if (degraded.length === 0) sendJson(res, 200, { status: 'ready', checks: results });
  else sendJson(res, 200, { status: 'degraded', checks: results, degraded: Object.fromEntries(degraded) });
}

async function sendMetrics(app: WebApp, res: ServerResponse): Promise<void> {
  const { registry } = app.metrics;
  const [own, more] = await Promise.all([registry.metrics(), app.moreMetrics?.() ?? '']);
  res.writeHead(200, { 'content-type': registry.contentType });
  res.end(more === '' ? own : `${own}\n${more}`);
}

export function createHttpServer(handler: ReturnType<typeof createRequestHandler>): Server {
  const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 30_000 }, handler);
  // A client that sends garbage gets a 400 from node and its socket closed; the process keeps serving.
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  return server;
}
