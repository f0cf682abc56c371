import { parseInstant } from '../query/series.js';

const DAY_MS = 86_400_000;

/** The event-time range an analytical request reads: [fromMs, toMs). */
export interface AnalyticsRange {
  readonly fromMs: number;
  readonly toMs: number;
}

export interface RangeRules {
  /** The span read when `from` is absent (ending at `to`, or now). */
  readonly defaultSpanMs: number;
  /** The longest span a request may read. */
  readonly maxSpanMs: number;
}

/**
 * SQL materialises the caller's rows of its range (sql-sandbox.ts), so its
 * range is what bounds that work: a day by default, a month at most.
 */
export const SQL_RANGE: RangeRules = { defaultSpanMs: DAY_MS, maxSpanMs: 31 * DAY_MS };
/** An export streams; its span bounds how long one download holds an export slot. */
export const EXPORT_RANGE: RangeRules = { defaultSpanMs: DAY_MS, maxSpanMs: 92 * DAY_MS };

const days = (ms: number): string => `${+(ms / DAY_MS).toFixed(3)} days`;

/**
 * Reads `from` and `to` (ISO 8601 instants, `from` inclusive, `to`
 * exclusive; `to` defaults to now, `from` to `to` minus the default span).
 * Returns a reason string when they are not a range the rules accept.
 */
export function parseAnalyticsRange(
  from: string | null,
  to: string | null,
  nowMs: number,
  rules: RangeRules,
): AnalyticsRange | string {
  const parsedFrom = parseInstant('from', from);
  const parsedTo = parseInstant('to', to);
  if (typeof parsedFrom === 'string') return parsedFrom;
  if (typeof parsedTo === 'string') return parsedTo;
  const toMs = parsedTo ?? nowMs;
  const fromMs = parsedFrom ?? toMs - rules.defaultSpanMs;
  if (fromMs >= toMs) return 'from must be before to';
  if (toMs - fromMs > rules.maxSpanMs) {
    return `from..to spans ${days(toMs - fromMs)}; at most ${days(rules.maxSpanMs)} a request`;
  }
  return { fromMs, toMs };
}
