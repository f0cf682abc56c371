import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The ceiling adtally is measured against: a bare node:http server that
 * answers every request with a 302 and does nothing else (no parsing, no
 * fsync). Same runtime, same machine, same load generator.
 */
export async function startBareRedirectServer(
  port = 0,
): Promise<{ url: string; server: Server; close: () => Promise<void> }> {
  const server = createServer({ keepAliveTimeout: 65_000 }, (_req, res) => {
    res.writeHead(302, {
      location: 'https://example.com/landing',
      'cache-control': 'no-store',
      'content-length': '0',
    });
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const close = (): Promise<void> =>
    new Promise((done) => {
      server.close(() => done());
      server.closeAllConnections();
    });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, close };
}
