import { execFile } from 'node:child_process';
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { BROWSER_HEADER, trackingPaths, type LoadFigures } from './request-load.js';
import { parseWrkOutput, type WrkOutput, type WrkScriptLine } from './wrk-output.js';

const run = promisify(execFile);
const SCRIPTS = resolve(import.meta.dirname, '../../../scripts');
/** Installs wrk when missing; shared with CI and with whoever measures by hand. */
export const ENSURE_WRK = resolve(SCRIPTS, 'services/ensure-wrk.sh');
export const WRK_SCRIPT = resolve(SCRIPTS, 'bench/wrk-signed-clicks.lua');

export type WrkAvailability = { readonly ready: true } | { readonly ready: false; readonly reason: string };

/** Runs the install script; a failure is a value with the script's reason, not an exception. */
export async function ensureWrk(script = ENSURE_WRK): Promise<WrkAvailability> {
  try {
    await run('bash', [script], { timeout: 10 * 60_000 });
    return { ready: true };
  } catch (err) {
    const { stderr, message } = err as { stderr?: string; message: string };
    const said = (stderr ?? '').trim().split('\n').at(-1)?.trim();
    return { ready: false, reason: said === undefined || said === '' ? message : said };
  }
}

/**
 * Writes `count` signed click paths over `adIds`, one a line, each on a new
 * impression id (the same generator as the bench's own client): wrk's Lua
 * has no HMAC, so the signing is done here, before the clock starts.
 */
export async function writeClickPaths(
  file: string,
  adIds: readonly number[],
  secret: string,
  count: number,
): Promise<void> {
  const next = trackingPaths('click', adIds, secret);
  const out = await open(file, 'w');
  try {
    for (let written = 0; written < count;) {
      const lines: string[] = [];
      for (const end = Math.min(count, written + 10_000); written < end; written++) lines.push(next());
      await out.write(`${lines.join('\n')}\n`);
    }
  } finally {
    await out.close();
  }
}

export interface WrkRun {
  readonly pathsFile: string;
  /** Lines of the file passed over first: those an earlier run (the warm-up) sent. */
  readonly skip: number;
  readonly durationMs: number;
  readonly connections: number;
  readonly timeoutMs: number;
}

/** wrk takes whole seconds. */
export const wrkSeconds = (ms: number): number => Math.max(1, Math.round(ms / 1_000));

/** A run of wrk-signed-clicks.lua: its done() line is always there. */
export type ScriptedWrkOutput = WrkOutput & { readonly script: WrkScriptLine };

/** One `wrk -t1 --latency` run walking the paths file; a report wrk did not print is a fault. */
export async function runWrk(url: string, load: WrkRun): Promise<ScriptedWrkOutput> {
  const seconds = wrkSeconds(load.durationMs);
  const args = [
    '-t1',
    `-c${load.connections}`,
    `-d${seconds}s`,
    `--timeout`,
    `${Math.ceil(load.timeoutMs / 1_000)}s`,
    '--latency',
    '-s',
    WRK_SCRIPT,
    '-H',
    BROWSER_HEADER.trim(),
    url,
    '--',
    load.pathsFile,
    String(load.skip),
  ];
  const { stdout, stderr } = await run('wrk', args, { timeout: (seconds + 60) * 1_000, maxBuffer: 1 << 20 });
  const parsed = parseWrkOutput(stdout);
  // wrk that cannot load its script warns and goes on with a plain GET of the URL: not this run.
  const fault =
    'rejected' in parsed ? parsed.rejected : parsed.script === undefined ? 'the script did not run' : '';
  if (fault !== '') throw new Error(`wrk ${args.join(' ')}: ${fault}\n${stdout}${stderr}`);
  return parsed as ScriptedWrkOutput;
}

/** A wrk run in the figures of the bench's own client, plus what only wrk tells. */
export interface WrkFigures extends LoadFigures {
  /** wrk's "Requests/sec": every answer, whatever its status. */
  readonly requestsPerSecond: number;
  readonly non2xx3xx: number;
  readonly socketErrors: WrkOutput['socketErrors'];
  /** Paths sent a second time because the file ran out (duplicates to adtally, not billable). */
  readonly repeatedPaths: number;
  /** Clicks the collector found valid during the run, from its /metrics; null for the bare server. */
  readonly validClicks: number | null;
}

export interface WrkLoad {
  readonly pathsFile: string;
  readonly pathCount: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly connections: number;
  readonly timeoutMs: number;
  /** A counter read before and after the measured run (adtally's valid clicks). */
  readonly validClicks?: () => Promise<number>;
}

/**
 * Warm-up then measured run, like the bench's own client: the warm-up's
 * answers are not counted and the measured run goes on where it stopped in
 * the file. Answered means a status below 400 (wrk's own test), failed a
 * status of 400 or more or a socket error.
 */
export async function driveWithWrk(url: string, load: WrkLoad): Promise<WrkFigures> {
  const base = { pathsFile: load.pathsFile, connections: load.connections, timeoutMs: load.timeoutMs };
  let skip = 0;
  if (load.warmupMs > 0) {
    const warmup = await runWrk(url, { ...base, skip: 0, durationMs: load.warmupMs });
    skip = Math.min(warmup.script.paths, load.pathCount);
  }
  const before = await load.validClicks?.();
  const out = await runWrk(url, { ...base, skip, durationMs: load.durationMs });
  const after = await load.validClicks?.();
  const errors = out.socketErrors;
  const socketFailures = errors.connect + errors.read + errors.write + errors.timeout;
  const answered = out.requests - out.non2xx3xx;
  const sent = out.requests + socketFailures;
  const failed = out.non2xx3xx + socketFailures;
  // The script's duration is exact; the text's is rounded to 3 digits.
  const elapsedMs = out.script.durationUs / 1_000;
  return {
    sent,
    answered,
    failed,
    failureRate: sent === 0 ? 0 : failed / sent,
    answeredPerSecond: (answered * 1_000) / elapsedMs,
    elapsedMs,
    p50: out.latencyMs.p50,
    p99: out.latencyMs.p99,
    p999: out.script.p999Us / 1_000,
    max: out.latencyMs.max,
    requestsPerSecond: out.requestsPerSecond,
    non2xx3xx: out.non2xx3xx,
    socketErrors: errors,
    repeatedPaths: Math.max(0, skip + out.script.paths - load.pathCount),
    validClicks: before === undefined || after === undefined ? null : after - before,
  };
}
