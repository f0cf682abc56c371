import { startBareRedirectServer } from './bare-redirect-server.js';
import { startDirectDbServer } from './direct-db-server.js';

/**
 * Entry point of the benchmark's reference servers, each run in a child
 * process like adtally itself: `bare` (node:http answering 302, the
 * machine's ceiling) or `direct-db <postgres-url>` (one INSERT per request).
 */
const [kind, databaseUrl] = process.argv.slice(2);
const server =
  kind === 'bare'
    ? await startBareRedirectServer()
    : kind === 'direct-db' && databaseUrl !== undefined
      ? await startDirectDbServer({ databaseUrl })
      : undefined;
if (server === undefined) {
  process.stderr.write('usage: reference-server-main.js bare | direct-db <postgres-url>\n');
  process.exit(2);
}
process.stdout.write(`listening on ${server.url}\n`);
process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
