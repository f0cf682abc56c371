/** What one `wrk --latency` run printed, in numbers (times in ms). */
export interface WrkOutput {
  /** Answers received, whatever their status. */
  readonly requests: number;
  readonly durationSeconds: number;
  /** wrk's own "Requests/sec": every answer over the run's length. */
  readonly requestsPerSecond: number;
  readonly latencyMs: {
    readonly avg: number;
    readonly max: number;
    readonly p50: number;
    readonly p75: number;
    readonly p90: number;
    readonly p99: number;
  };
  /** Answers with a status of 400 or more (wrk's "Non-2xx or 3xx responses"). */
  readonly non2xx3xx: number;
  readonly socketErrors: {
    readonly connect: number;
    readonly read: number;
    readonly write: number;
    readonly timeout: number;
  };
  /** The line printed by scripts/bench/wrk-signed-clicks.lua, when that script ran. */
  readonly script: WrkScriptLine | undefined;
}

/** What the text report lacks, from the script's done(): paths sent and wraps of the file, p99.9. */
export interface WrkScriptLine {
  readonly paths: number;
  readonly wraps: number;
  readonly p999Us: number;
  readonly maxUs: number;
  readonly requests: number;
  readonly durationUs: number;
}

export type WrkParse = WrkOutput | { readonly rejected: string };

/** wrk writes times with the unit that keeps them short: 812.00us, 1.72ms, 2.01s, 1.00m. */
const TIME_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const TIME = String.raw`([\d.]+)(us|ms|s|m|h)`;

function timeMs(value: string, unit: string): number {
  return Number(value) * TIME_MS[unit]!;
}

const SCRIPT_KEYS: readonly (keyof WrkScriptLine)[] = [
  'paths',
  'wraps',
  'p999Us',
  'maxUs',
  'requests',
  'durationUs',
];

function scriptLine(text: string): WrkScriptLine | undefined | { rejected: string } {
  const line = /^adtally-wrk (.*)$/m.exec(text);
  if (line === null) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line[1]!);
  } catch {
    return { rejected: `the script's line is not JSON: ${line[1]!}` };
  }
  const fields = parsed as Record<string, unknown>;
  for (const key of SCRIPT_KEYS) {
    if (typeof fields[key] !== 'number') return { rejected: `the script's line lacks "${key}"` };
  }
  return fields as unknown as WrkScriptLine;
}

/**
 * Reads the text report of `wrk --latency` (wrk 4.x). The socket-error and
 * non-2xx/3xx lines appear only when their counts are not zero.
 */
export function parseWrkOutput(text: string): WrkParse {
  const latency = new RegExp(String.raw`^\s*Latency\s+${TIME}\s+${TIME}\s+${TIME}`, 'm').exec(text);
  const percentile = (p: number): number | undefined => {
    const m = new RegExp(String.raw`^\s*${p}%\s+${TIME}\s*$`, 'm').exec(text);
    return m === null ? undefined : timeMs(m[1]!, m[2]!);
  };
  const total = new RegExp(String.raw`^\s*(\d+) requests in ${TIME}`, 'm').exec(text);
  const rate = /^Requests\/sec:\s+([\d.]+)\s*$/m.exec(text);
  if (latency === null) return { rejected: 'no "Latency" line (did wrk run?)' };
  if (total === null) return { rejected: 'no "N requests in T" line' };
  if (rate === null) return { rejected: 'no "Requests/sec" line' };
  const [p50, p75, p90, p99] = [50, 75, 90, 99].map(percentile);
  if (p50 === undefined || p75 === undefined || p90 === undefined || p99 === undefined) {
    return { rejected: 'no latency distribution (wrk needs --latency)' };
  }
  const socket = /^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/m.exec(text);
  const non2xx = /^\s*Non-2xx or 3xx responses: (\d+)/m.exec(text);
  const script = scriptLine(text);
  if (script !== undefined && 'rejected' in script) return script;
  return {
    requests: Number(total[1]),
    durationSeconds: timeMs(total[2]!, total[3]!) / 1_000,
    requestsPerSecond: Number(rate[1]),
    latencyMs: {
      avg: timeMs(latency[1]!, latency[2]!),
      max: timeMs(latency[5]!, latency[6]!),
      p50,
      p75,
      p90,
      p99,
    },
    non2xx3xx: non2xx === null ? 0 : Number(non2xx[1]),
    socketErrors: {
      connect: socket === null ? 0 : Number(socket[1]),
      read: socket === null ? 0 : Number(socket[2]),
      write: socket === null ? 0 : Number(socket[3]),
      timeout: socket === null ? 0 : Number(socket[4]),
    },
    script,
  };
}
