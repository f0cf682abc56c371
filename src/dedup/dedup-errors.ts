/**
 * Faults of a dedup store. Each says whether retrying the same batch can help
 * (`retriable`), as the aggregate store's faults do; a rejected claim decided
 * nothing the caller may count, so a retry of the same batch is always safe.
 */

/** The store cannot be reached or did not answer in time; retry with backoff. */
export class DedupUnavailableError extends Error {
  override readonly name = 'DedupUnavailableError';
  readonly retriable = true;
}

/**
 * The store's state was lost since this process opened it (a Redis restarted
 * without persistence, or flushed): its instance sentinel is missing or was
 * re-created by another process. Nothing in the batch was decided. Retrying
 * cannot help until someone calls `acknowledgeLoss()`: the coordinator decides
 * whether to go on (duplicates of impressions seen before the loss may then be
 * counted again, see docs/DEDUP-REDIS.md) or to stop for reconciliation.
 */
export class DedupStateLostError extends Error {
  override readonly name = 'DedupStateLostError';
  readonly retriable = false;
}
