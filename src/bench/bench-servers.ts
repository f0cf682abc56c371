import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AdminClient } from '../loadgen/admin-client.js';
import { startChildServer, type ChildServer } from './child-server.js';

const BIN = resolve(import.meta.dirname, '../../../bin/adtally.js');
const REFERENCE_MAIN = resolve(import.meta.dirname, 'reference-server-main.js');

/** The secrets every adtally the benchmark starts runs with. */
export const BENCH_SECRET = 'bench-secret-0123456789abcdef01';
export const BENCH_ADMIN_TOKEN = 'adm_bench_0123456789abcdef0123';

/** An `adtally serve` child process on a data directory of the benchmark's. */
export interface BenchAdtally extends ChildServer {
  readonly dataDir: string;
  readonly admin: AdminClient;
  /** Stops the process and deletes its data directory. */
  dispose(): Promise<void>;
}

/** The environment without the ADTALLY_* settings of whoever runs the benchmark. */
function benchEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ADTALLY_')) env[k] = v;
  return { ...env, ADTALLY_SECRET: BENCH_SECRET, ADTALLY_ADMIN_TOKEN: BENCH_ADMIN_TOKEN };
}

export async function freshDataDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'adtally-bench-'));
}

/** Starts `adtally serve` on `dataDir` (a fresh one when omitted), embedded backends, defaults otherwise. */
export async function startAdtally(dataDir?: string): Promise<BenchAdtally> {
  const dir = dataDir ?? (await freshDataDir());
  const server = await startChildServer([BIN, 'serve', '--port', '0', '--data-dir', dir], benchEnv());
  return {
    ...server,
    dataDir: dir,
    admin: new AdminClient(new URL(server.url), BENCH_ADMIN_TOKEN),
    dispose: async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function startBareServer(): Promise<ChildServer> {
  return startChildServer([REFERENCE_MAIN, 'bare'], benchEnv());
}

export function startDirectDbServer(databaseUrl: string): Promise<ChildServer> {
  return startChildServer([REFERENCE_MAIN, 'direct-db', databaseUrl], benchEnv());
}
