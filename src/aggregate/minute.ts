/** One event-time bucket: a UTC minute, `[start, start + MINUTE_MS)`. */
export const MINUTE_MS = 60_000;

/** The epoch-minute index of an instant in ms (minutes since 1970-01-01T00:00Z, floored). */
export function minuteOf(ms: number): number {
  return Math.floor(ms / MINUTE_MS);
}

/** The first millisecond of an epoch minute. */
export function minuteStartMs(minute: number): number {
  return minute * MINUTE_MS;
}
