import { parseDurationMs } from '../domain/duration.js';
import {
  ConfigError,
  helpLines,
  numberSetting,
  readCommandLine,
  stringSetting,
  type SettingSpec,
} from '../config/settings.js';
import type { PlanInputs } from './capacity-plan.js';

const days = (flag: string, help: string): SettingSpec<number> => ({
  flag,
  env: '',
  help,
  placeholder: 'DURATION',
  parse: (raw) => {
    const ms = parseDurationMs(raw);
    return ms === undefined ? { error: 'expected a duration such as 90d or 400d' } : ms / 86_400_000;
  },
});

const count = (flag: string, help: string, max = 1e9): SettingSpec<number> => ({
  ...numberSetting(flag, '', help, 0, max),
  env: '',
});

const PLAN_SETTINGS = {
  eventsPerSecond: count('events-per-second', 'average events/s (required)'),
  peakEventsPerSecond: count('peak', 'peak events/s (default 3x the average)'),
  payloadBytes: count('payload-bytes', 'bytes per event in the log (default 120)', 1e6),
  activeAds: count('ads', 'active ads (default 10000)'),
  hotAdShare: {
    ...numberSetting('hot-share', '', 'share of events on the hottest ad, 0-1 (default 0.01)', 0, 1),
    env: '',
  },
  queriesPerSecond: count('queries-per-second', 'advertiser queries/s (default 10)'),
  freshnessTargetMs: count('freshness-ms', 'click-to-queryable target p99 in ms (default 1000)'),
  retentionRaw: days('retention-raw', 'raw archive retention (default 90d)'),
  retentionAggregates: days('retention-aggregates', 'aggregates retention (default 400d)'),
  availability: {
    ...numberSetting('availability', '', 'availability target, e.g. 0.999 (default 0.99)', 0, 0.999999),
    env: '',
  },
  results: stringSetting('results', '', 'bench results directory (default bench/results)', 'DIR'),
} satisfies Record<string, SettingSpec<unknown>>;

export interface PlanOptions {
  readonly inputs: PlanInputs;
  readonly resultsDir: string;
  readonly json: boolean;
}

export function planHelp(): string {
  return [
    'usage: adtally plan --events-per-second N [options]',
    '',
    'The shape a deployment needs (one serve, or collectors, partitions and workers) and why,',
    "from adtally's own measured figures in bench/results/*.json.",
    '',
    'options:',
    ...helpLines(PLAN_SETTINGS, { json: 'print the plan as JSON' }),
  ].join('\n');
}

export function parsePlanOptions(argv: readonly string[]): PlanOptions | 'help' {
  const { help, values, switches } = readCommandLine(argv, PLAN_SETTINGS, { switches: ['json'] });
  if (help) return 'help';
  const average = values.eventsPerSecond;
  if (average === undefined || average <= 0)
    throw new ConfigError('--events-per-second: required, a number > 0');
  const peak = values.peakEventsPerSecond ?? average * 3;
  if (peak < average) throw new ConfigError('--peak: must be at least --events-per-second');
  return {
    inputs: {
      eventsPerSecond: average,
      peakEventsPerSecond: peak,
      payloadBytes: values.payloadBytes ?? 120,
      activeAds: values.activeAds ?? 10_000,
      hotAdShare: values.hotAdShare ?? 0.01,
      queriesPerSecond: values.queriesPerSecond ?? 10,
      freshnessTargetMs: values.freshnessTargetMs ?? 1_000,
      retentionRawDays: values.retentionRaw ?? 90,
      retentionAggregateDays: values.retentionAggregates ?? 400,
      availability: values.availability ?? 0.99,
    },
    resultsDir: values.results ?? 'bench/results',
    json: switches.has('json'),
  };
}
