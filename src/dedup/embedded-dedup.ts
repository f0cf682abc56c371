import type { DedupEntry } from '../aggregate/dedup-index.js';
import type { AggregateStore, ReadEventAt } from '../store/aggregate-store.js';
import type { DedupBackend } from './dedup-backend.js';

/**
 * The embedded dedup backend (`--dedup embedded:`): a table in the data
 * directory's store file. The aggregation worker hands new entries to the
 * store's commit, so they land in the same transaction as the counts and the
 * consumer offset and no crash can separate them.
 */
export class EmbeddedDedup implements DedupBackend {
  constructor(private readonly store: AggregateStore) {}

  load(horizonMs: number, readEventAt: ReadEventAt): Promise<DedupEntry[]> {
    return this.store.loadDedup(horizonMs, readEventAt);
  }
}
