import type { DedupDecision } from '../aggregate/dedup-index.js';
import { DedupStateLostError } from '../dedup/dedup-errors.js';
import type { DedupClaim, DedupStore } from '../dedup/dedup-store.js';
import type { OpenedDedupStore } from '../dedup/open-dedup-store.js';

/**
 * What `adtally worker` does when the dedup store lost its state (Redis
 * restarted without persistence): it says so loudly (log, metric), accepts
 * the loss and goes on, rather than stopping every partition until an
 * operator acts. The batch that met the loss still fails: its partition's
 * worker starts over from its last commit, and every event it replays is
 * claimed afresh, so nothing uncommitted is counted twice.
 *
 * The price, documented in docs/DEDUP-REDIS.md: an impression (ad, imp)
 * first seen before the loss and seen again after it, within its token's
 * lifetime, is counted a second time; `adtally reconcile` recomputes those
 * minutes from the raw archive, deduplicating on (ad, imp), and repairs them.
 */
export class DedupLossPolicy implements DedupStore {
  private losses = 0;
  private acknowledging: Promise<void> | undefined;

  constructor(
    private readonly store: OpenedDedupStore,
    private readonly print: (line: string) => void,
  ) {}

  /** Times the store's state was found lost since start (for the metric). */
  lossCount(): number {
    return this.losses;
  }

  async claim(claims: readonly DedupClaim[]): Promise<DedupDecision[]> {
    try {
      return await this.store.claim(claims);
    } catch (err) {
      if (err instanceof DedupStateLostError) await this.acknowledge(err);
      throw err;
    }
  }

  /**
   * At start: a store that had to create its state (no sentinel: a Redis never
   * used, or one that lost everything while no worker ran) while the serving
   * store already holds checkpoints for the topic means the state was lost.
   */
  noteStart(createdState: boolean, hasCheckpoints: boolean): void {
    if (!createdState || !hasCheckpoints) return;
    this.losses++;
    this.print(
      'dedup state lost while no worker ran (the serving store has checkpoints, the dedup store had none); ' +
        'going on: impressions seen before may be counted again within their token lifetime',
    );
  }

  /** Several partitions meet the loss at once: one acknowledgement serves them all. */
  private acknowledge(err: DedupStateLostError): Promise<void> {
    this.acknowledging ??= (async () => {
      this.losses++;
      this.print(
        `dedup state lost (${err.message}); going on: impressions seen before the loss may be counted ` +
          'again within their token lifetime until `adtally reconcile` repairs those minutes',
      );
      await this.store.acknowledgeLoss();
    })().finally(() => (this.acknowledging = undefined));
    return this.acknowledging;
  }

  check(): Promise<void> {
    return this.store.check();
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
