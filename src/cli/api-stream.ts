import { minuteOf } from '../aggregate/minute.js';
import type { Catalog } from '../catalog/catalog.js';
import type { CheckpointRow, MinuteDelta } from '../store/aggregate-store.js';
import { MinuteDiff } from '../web/minute-diff.js';
import type { StreamHub } from '../web/stream-hub.js';

/** Cells read per pass at most (ads watched x recent minutes); past it the watchers get a resync. */
export const STREAM_READ_CELLS = 200_000;
/** Minutes before the current one a pass reads at most, however far the watermark lags. */
const MAX_WINDOW_MINUTES = 10;

export interface ApiStreamDeps {
  readonly hub: Pick<StreamHub, 'watched' | 'publish' | 'resyncAll'>;
  readonly catalog: Catalog;
  /** The stored cells of `ads` (undefined: all) from `fromMinute` on (store/postgres/recent-minutes.ts). */
  readonly read: (
    ads: readonly number[] | undefined,
    fromMinute: number,
    limit: number,
  ) => Promise<{ cells: MinuteDelta[]; truncated: boolean }>;
  readonly watermark: () => number | undefined;
  readonly allowedLatenessMs: number;
  readonly now: () => number;
  readonly onError: (err: Error) => void;
}

/**
 * The live stream of `adtally api`. The workers commit in other processes, so
 * the api learns of a commit from the partitions' checkpoints it already reads
 * for the watermark (every 200 ms): when an offset moved and someone watches,
 * it reads the recent cells of the watched ads and sends what changed since
 * its last read. Only minutes that are not final change in agg_minute (a late
 * event of a final minute goes to agg_late), so the cells from the
 * watermark's minute on are all it must compare. Commits of one interval
 * reach the stream as one event; no worker or schema change is needed.
 */
export function createApiStream(deps: ApiStreamDeps): {
  checkpointsRead(rows: readonly CheckpointRow[]): void;
  /** Resolves once a read that started after the call has set the baseline (a new watcher's hello waits for it). */
  prime(): Promise<void>;
} {
  const diff = new MinuteDiff();
  let seen = '';
  let running = false;
  let again = false;
  /** The ads the last read covered ('all' for the admin's); a watcher's new ads are primed, not reported. */
  let readAds: 'all' | ReadonlySet<number> = new Set();
  /** Callers of prime() waiting for the next pass to start and end. */
  let waiting: (() => void)[] = [];

  async function pass(): Promise<void> {
    const watched = deps.hub.watched();
    if (watched !== 'all' && watched.size === 0) {
      diff.reset();
      readAds = new Set();
      return;
    }
    const now = deps.now();
    const watermark = deps.watermark();
    const current = minuteOf(now);
    const fromWatermark =
      watermark === undefined ? current : minuteOf(watermark - deps.allowedLatenessMs) - 1;
    const fromMinute = Math.max(fromWatermark, current - MAX_WINDOW_MINUTES);
    const ads =
      watched === 'all'
        ? undefined
        : [...watched].flatMap((advertiserId) =>
            deps.catalog.listAds({ kind: 'advertiser', advertiserId }).map((ad) => ad.id),
          );
    const { cells, truncated } = await deps.read(ads, fromMinute, STREAM_READ_CELLS);
    const before = readAds;
    readAds = ads === undefined ? 'all' : new Set(ads);
    const deltas = diff.update(cells, fromMinute, (ad) => before !== 'all' && !before.has(ad));
    if (truncated) {
      diff.reset();
      deps.hub.resyncAll();
      return;
    }
    deps.hub.publish({ offset: null, watermark, deltas });
  }

  const run = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    const served = waiting;
    waiting = [];
    pass()
      .catch((err: unknown) => {
        // What changed meanwhile is unknown: watchers refetch, and the next pass primes again.
        diff.reset();
        deps.hub.resyncAll();
        deps.onError(err as Error);
      })
      .finally(() => {
        for (const resolve of served) resolve();
        running = false;
        if (again) {
          again = false;
          run();
        }
      });
  };

  return {
    prime() {
      return new Promise<void>((resolve) => {
        waiting.push(resolve);
        run();
      });
    },
    checkpointsRead(rows) {
      const offsets = rows.map((r) => `${r.consumer}=${r.checkpoint.offset}`).join(',');
      const moved = offsets !== seen;
      seen = offsets;
      const watched = deps.hub.watched();
      if (watched !== 'all' && watched.size === 0) {
        diff.reset();
        return;
      }
      // A read when a commit landed, or to prime the baseline for a first watcher; never on every tick.
      if (moved || !diff.isPrimed()) run();
    },
  };
}
