/**
 * Error text for @platformatic/kafka failures: the client wraps the broker's
 * reason (e.g. "The broker received an out of order sequence number.") in one
 * or two AggregateErrors whose own message says only which API failed.
 */
export function describeKafkaError(error: unknown): string {
  const parts: string[] = [];
  const visit = (e: unknown, depth: number): void => {
    if (depth > 4 || e === undefined || e === null) return;
    if (e instanceof Error) {
      if (!parts.includes(e.message)) parts.push(e.message);
      const nested = (e as Error & { errors?: unknown[] }).errors;
      if (Array.isArray(nested)) for (const inner of nested) visit(inner, depth + 1);
      visit(e.cause, depth + 1);
    } else if (typeof e === 'string' || typeof e === 'number') {
      parts.push(String(e));
    }
  };
  visit(error, 0);
  return parts.join(': ');
}

/** The Kafka error code of a protocol failure somewhere inside `error`, if any. */
export function kafkaErrorCode(error: unknown): number | undefined {
  const visit = (e: unknown, depth: number): number | undefined => {
    if (depth > 4 || !(e instanceof Error)) return undefined;
    const own = (e as Error & { apiCode?: unknown }).apiCode;
    if (typeof own === 'number') return own;
    const nested = (e as Error & { errors?: unknown[] }).errors;
    if (Array.isArray(nested)) {
      for (const inner of nested) {
        const code = visit(inner, depth + 1);
        if (code !== undefined) return code;
      }
    }
    return visit(e.cause, depth + 1);
  };
  return visit(error, 0);
}

/** Kafka protocol error codes this adapter handles by name. */
export const KafkaErrorCodes = {
  OFFSET_OUT_OF_RANGE: 1,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  NOT_LEADER_OR_FOLLOWER: 6,
  TOPIC_ALREADY_EXISTS: 36,
} as const;
