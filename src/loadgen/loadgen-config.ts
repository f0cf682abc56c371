import {
  ConfigError,
  durationSetting,
  helpLines,
  numberSetting,
  positiveIntSetting,
  readCommandLine,
  stringSetting,
} from '../config/settings.js';
import type { TrafficMix } from './traffic-plan.js';

/** Everything one `adtally loadgen` run needs, checked once at start. */
export interface LoadgenOptions {
  readonly target: URL;
  /** Events per second, open loop; 'max' keeps every connection busy (closed loop). */
  readonly rate: number | 'max';
  readonly durationMs: number;
  readonly connections: number;
  readonly ads: number;
  readonly useExisting: boolean;
  readonly mix: TrafficMix;
  /** Unanswered events are "at most once" in the check instead of making it inexact. */
  readonly tolerateUnknownFate: boolean;
  /** Pause between creating the ads and the first event (ms). */
  readonly catalogWaitMs: number;
  /** How far in the past late batch lines are dated, at most. */
  readonly lateByMs: number;
  readonly adminToken: string;
  readonly secret: string | undefined;
  readonly clickTtlMs: number;
  readonly allowedLatenessMs: number;
  /** Widening of every request's event-time interval, for clock differences with the server. */
  readonly clockSlackMs: number;
  readonly timeoutMs: number;
  readonly settleTimeoutMs: number;
  readonly seed: number;
  readonly check: boolean;
  readonly saveTruth: string | undefined;
  readonly checkOnly: string | undefined;
  readonly json: boolean;
  readonly progress: boolean;
}

const share = (flag: string, help: string) =>
  numberSetting(flag, '', `${help} (0-1, default 0)`, 0, 1, 'SHARE');

const SETTINGS = {
  target: stringSetting('target', '', 'adtally to drive (default http://127.0.0.1:8080)', 'URL'),
  rate: stringSetting('rate', '', 'events per second, open loop, or "max" (default 1000)', 'N|max'),
  duration: durationSetting('duration', '', 'how long to send (default 60s)'),
  connections: positiveIntSetting('connections', '', 'keep-alive connections (default 64)'),
  ads: positiveIntSetting('ads', '', 'ads to create and spread traffic over (default 100)'),
  zipf: numberSetting('zipf', '', 'Zipf skew of traffic over ads; 0 is uniform (default 1.1)', 0, 10, 'S'),
  ctr: numberSetting('ctr', '', 'clicks per impression (default 0.1)', 0, 1, 'SHARE'),
  dupRate: share('dup-rate', 'share of events repeating an answered one'),
  badSigRate: share('bad-sig-rate', 'share of events with a wrong signature'),
  expiredRate: share('expired-rate', 'share of events with an expired token (needs --secret)'),
  botRate: share('bot-rate', 'share of events from crawler user agents'),
  prefetchRate: share('prefetch-rate', 'share of events that are browser prefetches'),
  lateRate: share('late-rate', 'share of valid events sent late in batches, dated in the past'),
  lateBy: durationSetting('late-by', '', 'late events are dated up to this far back (default 3s)'),
  adminToken: stringSetting('admin-token', 'ADTALLY_ADMIN_TOKEN', 'admin token of the target', 'TOKEN'),
  secret: stringSetting(
    'secret',
    'ADTALLY_SECRET',
    "sign tokens with the target's secret instead of GET /ad",
    'SECRET',
  ),
  clickTtl: durationSetting('click-ttl', '', "the target's token lifetime, for expired tokens (default 24h)"),
  allowedLateness: durationSetting('allowed-lateness', '', "the target's allowed lateness (default 5s)"),
  clockSlack: durationSetting('clock-slack', '', 'clock difference tolerated with the target (default 5ms)'),
  timeout: durationSetting('timeout', '', 'request timeout (default 10s)'),
  settleTimeout: durationSetting(
    'settle-timeout',
    '',
    'wait at most this long for the watermark (default 60s)',
  ),
  seed: positiveIntSetting('seed', '', 'seed of the traffic mix (default 1)'),
  catalogWait: durationSetting(
    'catalog-wait',
    '',
    "wait this long after creating ads before sending: a cluster's collectors learn of them asynchronously (default 0)",
  ),
  saveTruth: stringSetting('save-truth', '', 'write the ground truth to FILE', 'FILE'),
  checkOnly: stringSetting(
    'check-only',
    '',
    'send nothing; check the target against a saved ground truth',
    'FILE',
  ),
};

const SWITCHES = {
  'use-existing': "spread traffic over the target's active ads instead of creating ads",
  'clicks-only': 'send clicks only (on new impression ids), no impression pixels',
  'no-check': 'only send traffic; do not check the counts afterwards',
  'tolerate-unknown-fate':
    'an event whose request got no answer (a killed server, a 5xx) may count once or not at all, never twice',
  json: 'print the summary as JSON on stdout',
  quiet: 'no progress line',
};

export function loadgenHelp(): string {
  return [
    'usage: adtally loadgen [options]',
    '',
    'Drives a running adtally over HTTP like browsers and ad servers, keeps the ground',
    'truth of what it sent and was answered, then waits for the watermark and checks',
    'every (ad, minute) against the query API. Exit status 0 when exact, 1 when not.',
    '',
    'options:',
    ...helpLines(SETTINGS, SWITCHES),
  ].join('\n');
}

function parseTarget(raw: string | undefined): URL {
  const text = raw ?? 'http://127.0.0.1:8080';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`--target: "${text}" is not a URL`);
  }
  if (url.protocol !== 'http:')
    throw new ConfigError(`--target: only http:// targets are supported, not ${url.protocol}`);
  if (url.pathname !== '/' || url.search !== '')
    throw new ConfigError('--target: give the base URL only, such as http://127.0.0.1:8080');
  return url;
}

function parseRate(raw: string | undefined): number | 'max' {
  if (raw === undefined) return 1_000;
  if (raw === 'max') return 'max';
  const rate = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(rate > 0 && rate <= 1_000_000))
    throw new ConfigError('--rate: expected events per second (0-1000000) or "max"');
  return rate;
}

/** Parses `adtally loadgen` flags; secrets may also come from ADTALLY_SECRET / ADTALLY_ADMIN_TOKEN. */
export function parseLoadgenOptions(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): LoadgenOptions | 'help' {
  const {
    help,
    values: v,
    switches,
  } = readCommandLine(argv, SETTINGS, {
    switches: Object.keys(SWITCHES),
    env: { ADTALLY_SECRET: env.ADTALLY_SECRET, ADTALLY_ADMIN_TOKEN: env.ADTALLY_ADMIN_TOKEN },
  });
  if (help) return 'help';
  const mix: TrafficMix = {
    ctr: v.ctr ?? 0.1,
    clicksOnly: switches.has('clicks-only'),
    dupRate: v.dupRate ?? 0,
    badSigRate: v.badSigRate ?? 0,
    expiredRate: v.expiredRate ?? 0,
    botRate: v.botRate ?? 0,
    prefetchRate: v.prefetchRate ?? 0,
    lateRate: v.lateRate ?? 0,
    zipf: v.zipf ?? 1.1,
  };
  const invalidShare = mix.badSigRate + mix.expiredRate + mix.botRate + mix.prefetchRate;
  if (invalidShare > 1)
    throw new ConfigError(
      '--bad-sig-rate, --expired-rate, --bot-rate and --prefetch-rate add up to more than 1',
    );
  const target = parseTarget(v.target);
  const rate = parseRate(v.rate);
  if (v.adminToken === undefined) {
    throw new ConfigError(
      '--admin-token (or ADTALLY_ADMIN_TOKEN) is needed to create or list ads and read counts',
    );
  }
  const options: LoadgenOptions = {
    target,
    rate,
    durationMs: v.duration ?? 60_000,
    connections: v.connections ?? 64,
    ads: v.ads ?? 100,
    useExisting: switches.has('use-existing'),
    mix,
    lateByMs: v.lateBy ?? 3_000,
    adminToken: v.adminToken,
    secret: v.secret,
    clickTtlMs: v.clickTtl ?? 86_400_000,
    allowedLatenessMs: v.allowedLateness ?? 5_000,
    clockSlackMs: v.clockSlack ?? 5,
    timeoutMs: v.timeout ?? 10_000,
    settleTimeoutMs: v.settleTimeout ?? 60_000,
    seed: v.seed ?? 1,
    check: !switches.has('no-check'),
    tolerateUnknownFate: switches.has('tolerate-unknown-fate'),
    catalogWaitMs: v.catalogWait ?? 0,
    saveTruth: v.saveTruth,
    checkOnly: v.checkOnly,
    json: switches.has('json'),
    progress: !switches.has('quiet'),
  };
  validate(options);
  return options;
}

function validate(o: LoadgenOptions): void {
  if (o.mix.expiredRate > 0 && o.secret === undefined) {
    throw new ConfigError('--expired-rate needs --secret: an expired token must be signed with an old ts');
  }
  if (o.mix.lateRate > 0 && o.lateByMs + 1_000 > o.allowedLatenessMs) {
    throw new ConfigError(
      '--late-by must be at least 1s under --allowed-lateness, or late events would land in minutes already final',
    );
  }
  if (o.checkOnly !== undefined && o.saveTruth !== undefined) {
    throw new ConfigError('--check-only and --save-truth do not go together');
  }
  if (o.rate === 'max' && o.check && o.mix.lateRate > 0) {
    throw new ConfigError('--rate max sends no late batches; drop --late-rate');
  }
}
