import type { AddressInfo } from 'node:net';
import type { createRequestHandler } from '../web/server.js';
import { createHttpServer } from '../web/server.js';

/** How long in-flight requests get to finish on shutdown before their sockets are cut. */
const SHUTDOWN_GRACE_MS = 10_000;

export interface Listening {
  /** `http://host:port` as bound (port 0 resolved). */
  readonly url: string;
  /** Stops accepting, lets in-flight requests finish (cut after a grace period), then resolves. */
  close(): Promise<void>;
}

/** Listens with the request handler every adtally process uses (serve, collector, worker, api). */
export async function listen(
  handler: ReturnType<typeof createRequestHandler>,
  host: string,
  port: number,
): Promise<Listening> {
  const server = createHttpServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const forced = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(forced);
    },
  };
}
