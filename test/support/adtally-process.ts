import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { signToken } from '../../src/domain/token.js';

export const BIN = resolve(import.meta.dirname, '../../../bin/adtally.js');
export const TEST_SECRET = 'e2e-test-secret-0123456789abcdef';
export const TEST_ADMIN_TOKEN = 'adm_e2e_test_admin_token_0123456789';
export const CHROME_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

export function makeDataDir(prefix = 'adtally-e2e-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A real `adtally serve` child process on a free port. */
export class AdtallyProcess {
  private output = '';
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    readonly dataDir: string,
    readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
  ) {}

  static async start(
    dataDir: string,
    options: { args?: string[]; env?: Record<string, string>; useTestSecrets?: boolean } = {},
  ): Promise<AdtallyProcess> {
    const env: Record<string, string> = { ...cleanEnv(), ...(options.env ?? {}) };
    if (options.useTestSecrets !== false) {
      env.ADTALLY_SECRET = TEST_SECRET;
      env.ADTALLY_ADMIN_TOKEN = TEST_ADMIN_TOKEN;
    }
    const child = spawn(
      process.execPath,
      [BIN, 'serve', '--port', '0', '--data-dir', dataDir, ...(options.args ?? [])],
      {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
      child.once('exit', (code, signal) => done({ code, signal })),
    );
    let output = '';
    const url = await new Promise<string>((ready, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`adtally did not start within 20 s:\n${output}`)),
        20_000,
      );
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        const match = /listening on (http:\/\/\S+)/.exec(output);
        if (match !== null) {
          clearTimeout(timer);
          ready(match[1]!);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      void exited.then(({ code }) => {
        clearTimeout(timer);
        fail(new Error(`adtally exited with ${code} before listening:\n${output}`));
      });
    });
    const proc = new AdtallyProcess(child, url, dataDir, exited);
    proc.output = output;
    child.stdout.on('data', (chunk: Buffer) => (proc.output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (proc.output += chunk.toString()));
    return proc;
  }

  get log(): string {
    return this.output;
  }

  /** SIGTERM, then the exit status. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** The environment without ADTALLY_* settings of the developer's shell. */
export function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('ADTALLY_') && v !== undefined) env[k] = v;
  return env;
}

/** Runs the bin to completion (for CLI error tests). */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...cleanEnv(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => done({ code, stdout, stderr }));
  });
}

/** Query string of a token signed with the test secret. */
export function tokenQuery(
  ad: number,
  imp: string,
  ts = Math.floor(Date.now() / 1000),
  secret = TEST_SECRET,
): string {
  const t = signToken(secret, ad, imp, ts);
  return new URLSearchParams({ ad: String(t.ad), imp: t.imp, ts: String(t.ts), sig: t.sig }).toString();
}

/** A small admin API client. */
export function adminApi(base: string, token = TEST_ADMIN_TOKEN) {
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    auth: string | null = token,
  ): Promise<Response> =>
    fetch(`${base}${path}`, {
      method,
      headers: {
        ...(auth === null ? {} : { authorization: `Bearer ${auth}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? null : JSON.stringify(body),
      redirect: 'manual',
    });
  const json = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await call(method, path, body);
    if (!res.ok) throw new Error(`${method} ${path} -> ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  return {
    call,
    json,
    /** Creates an advertiser, a campaign and `ads` ads; returns their ids and the advertiser's key. */
    async seed(ads = 1, name = 'Acme') {
      const advertiser = await json<{ id: number; apiKey: string }>('POST', '/api/v1/advertisers', { name });
      const campaign = await json<{ id: number }>('POST', '/api/v1/campaigns', {
        advertiserId: advertiser.id,
        name: `${name} spring`,
      });
      const adIds: number[] = [];
      for (let i = 0; i < ads; i++) {
        const ad = await json<{ id: number }>('POST', '/api/v1/ads', {
          campaignId: campaign.id,
          name: `${name} ad ${i}`,
          targetUrl: `https://${name.toLowerCase()}.example/landing/${i}`,
        });
        adIds.push(ad.id);
      }
      return { advertiserId: advertiser.id, apiKey: advertiser.apiKey, campaignId: campaign.id, adIds };
    },
  };
}
