const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a duration such as `24h`, `5s`, `250ms` or `1.5h` into milliseconds.
 * A bare number is seconds. Returns undefined for anything else.
 */
export function parseDurationMs(raw: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(raw.trim());
  if (match === null) return undefined;
  const value = Number(match[1]);
  const ms = value * (UNIT_MS[match[2] ?? 's'] ?? 1000);
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}
