/**
 * Why an analytical request gets no answer: a value the route turns into
 * its status and `{"error": {code, message}}` (SPEC 3). 400: the statement
 * or a budget refused it; 404: a subject the caller cannot see; 408: the
 * time limit; 503: every slot busy (retry).
 */
export class AnalyticsRefusal extends Error {
  override readonly name = 'AnalyticsRefusal';
  constructor(
    readonly status: 400 | 404 | 408 | 503,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const refused = (message: string): AnalyticsRefusal =>
  new AnalyticsRefusal(400, 'sql_refused', message);

/** DuckDB's own reason, first line only (its messages go on with hints and carets). */
export function duckDbReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0]!.trim();
}

/** DuckDB's error for a statement stopped by `connection.interrupt()`. */
export function isInterrupt(err: unknown): boolean {
  return err instanceof Error && /^INTERRUPT Error/.test(err.message);
}
