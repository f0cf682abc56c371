import {
  Agent,
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { impHash } from '../domain/partitioning.js';

export interface FrontProxyOptions {
  /** Where the tracking routes go (round robin): the collectors. */
  readonly collectors: readonly string[];
  /** Where /api/ goes (round robin): the api processes. */
  readonly apis: readonly string[];
  readonly host?: string;
  readonly port?: number;
  /** Sockets kept open to each upstream (default 64): what one proxy may hold against a process. */
  readonly socketsPerUpstream?: number;
}

/** An upstream that refused a connection is skipped this long before it is tried again. */
const DOWN_FOR_MS = 1_000;

interface Upstream {
  readonly url: URL;
  downUntil: number;
}

/**
 * The small load balancer of `npm run cluster` and the cluster tests: the
 * ingress a deployment would put in front (nginx, an ELB). `/api/...` goes to
 * an api process, round robin; `/click` and `/impression` to the collector
 * their impression id hashes to (the next live one when it is down); other
 * tracking paths round robin.
 *
 * Why by impression: "first" is first in log order. While Kafka is away a
 * collector spills and forwards later; had a repeat of an impression gone to
 * another collector that was already appending to Kafka again, the repeat
 * would reach the log first and the original would become its duplicate,
 * billed in the later minute. With every event of one impression through one
 * collector, its order in the log is the order of the answers.
 *
 * A request is tried on the next upstream only when the connection was
 * refused, so the upstream never saw it; once sent, a failure is a 502 and
 * its fate unknown to the client (a click sent twice would be a duplicate).
 */
export class FrontProxy {
  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly agent: Agent,
    private readonly pools: { collectors: Upstream[]; apis: Upstream[] },
  ) {}

  /** Points the tracking routes at another set of collectors (one replaced after a crash). */
  setCollectors(urls: readonly string[]): void {
    this.pools.collectors = urls.map((u) => ({ url: new URL(u), downUntil: 0 }));
  }

  static async start(options: FrontProxyOptions): Promise<FrontProxy> {
    const pool = (urls: readonly string[]): Upstream[] =>
      urls.map((u) => ({ url: new URL(u), downUntil: 0 }));
    const pools = { collectors: pool(options.collectors), apis: pool(options.apis) };
    const agent = new Agent({ keepAlive: true, maxSockets: options.socketsPerUpstream ?? 64 });
    const turn = { collectors: 0, apis: 0 };
    /** From `start` on, the first upstream not tried yet and not marked down (else any not tried). */
    const pick = (upstreams: Upstream[], start: number, tried: Set<Upstream>): Upstream | undefined => {
      const now = Date.now();
      for (let i = 0; i < upstreams.length; i++) {
        const u = upstreams[(start + i) % upstreams.length]!;
        if (!tried.has(u) && u.downUntil <= now) return u;
      }
      return upstreams.find((u) => !tried.has(u));
    };
    const server = createServer((req, res) => {
      const url = req.url ?? '/';
      const which = url.startsWith('/api/') ? 'apis' : 'collectors';
      const imp = which === 'collectors' ? impressionOf(url) : undefined;
      const start = imp === undefined ? turn[which]++ & 0x7fffffff : impHash(imp);
      const tried = new Set<Upstream>();
      forward(req, res, agent, () => pick(pools[which], start, tried), tried);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
    });
    const address = server.address() as AddressInfo;
    return new FrontProxy(server, `http://${address.address}:${address.port}`, agent, pools);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    this.agent.destroy();
  }
}

/** The `imp` of a `/click` or `/impression` request, or undefined. */
function impressionOf(url: string): string | undefined {
  if (!url.startsWith('/click?') && !url.startsWith('/impression?')) return undefined;
  const imp = new URLSearchParams(url.slice(url.indexOf('?') + 1)).get('imp');
  return imp === null || imp === '' ? undefined : imp;
}

function forward(
  req: IncomingMessage,
  res: ServerResponse,
  agent: Agent,
  next: () => Upstream | undefined,
  tried: Set<Upstream>,
): void {
  // Bodies are buffered (tracking bodies are small; /events is capped at 1 MiB by the collector)
  // so a refused connection can be retried elsewhere with the same bytes.
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('error', () => res.destroy());
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const attempt = (): void => {
      const upstream = next();
      if (upstream === undefined) {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ error: { code: 'no_upstream', message: 'no upstream accepted the connection' } }),
        );
        return;
      }
      tried.add(upstream);
      const out = request(
        {
          host: upstream.url.hostname,
          port: upstream.url.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress ?? '' },
          agent,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      out.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNREFUSED') {
          upstream.downUntil = Date.now() + DOWN_FOR_MS;
          attempt();
          return;
        }
        if (res.headersSent) res.destroy();
        else {
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'upstream_failed', message: err.message } }));
        }
      });
      out.end(body);
    };
    attempt();
  });
}
