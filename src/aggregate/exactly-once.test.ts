import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TrackedEvent } from '../domain/event.js';
import type { Outcome } from '../domain/outcome.js';
import type { MinuteAggregator } from './minute-aggregator.js';
import { asRecord, cleanRun, CommittedState, makeEvent, mulberry32, oracle } from './test-support.js';

const T = Date.UTC(2026, 10, 23, 10, 0, 0);
// A short TTL so that tokens expire and dedup entries are dropped within a run.
const OPTIONS = { allowedLatenessMs: 5_000, clickTtlMs: 120_000 };
const SEEDS = 300;

/**
 * A log as collectors would write it: receive times that mostly rise, with
 * reordering up to twice the lateness (so some events are late); outcomes as
 * the collector classifies them, `expired` whenever the event time is outside
 * the token's validity; a few unknown ads; some imps shared by several ads.
 */
function generateLog(rand: () => number): TrackedEvent[] {
  const n = 1 + Math.floor(rand() * 400);
  const ads = 1 + Math.floor(rand() * 4);
  const imps: { imp: string; ad: number; tokenTs: number }[] = [];
  const impressions = new Set<string>();
  for (let i = 0, n = 2 + Math.floor(rand() * 40); i < n; i++) {
    // A quarter of the tokens reuse an earlier token's imp on another ad: another impression. (The
    // same ad and imp signed again at another ts is not generated: dedup remembers an impression
    // for its token's TTL only, SPEC 2.)
    const shared = i > 0 && rand() < 0.25 ? imps[Math.floor(rand() * i)]! : undefined;
    const ad = 1 + Math.floor(rand() * ads);
    const imp =
      shared !== undefined && !impressions.has(`${ad}/${shared.imp}`)
        ? shared.imp
        : `imp-${i.toString().padStart(8, '0')}`;
    impressions.add(`${ad}/${imp}`);
    imps.push({ imp, ad, tokenTs: Math.floor((T - 60_000 + rand() * 660_000) / 1000) });
  }
  const events: TrackedEvent[] = [];
  let clock = T;
  for (let i = 0; i < n; i++) {
    clock += Math.floor(rand() * 3_000);
    const jitter = rand() < 0.1 ? rand() * 2 * OPTIONS.allowedLatenessMs : rand() * 1_000;
    const eventTime = Math.floor(clock - jitter);
    const token = imps[Math.floor(rand() * imps.length)]!;
    const valid =
      eventTime >= token.tokenTs * 1000 - 300_000 && eventTime <= token.tokenTs * 1000 + OPTIONS.clickTtlMs;
    const r = rand();
    let outcome: Outcome;
    if (r < 0.03) outcome = 'unknown_ad';
    else if (r < 0.1) outcome = 'bad_signature';
    else if (!valid) outcome = 'expired';
    else if (r < 0.15) outcome = 'bot';
    else if (r < 0.2) outcome = 'prefetch';
    else outcome = 'ok';
    const type = rand() < 0.5 ? 'click' : 'impression';
    events.push(
      makeEvent({ type, ad: token.ad, imp: token.imp, tokenTs: token.tokenTs, eventTime, outcome }),
    );
  }
  return events;
}

/** How many (type, imp) have valid events on more than one ad. */
function billedOnSeveralAds(events: readonly TrackedEvent[]): number {
  const ads = new Map<string, Set<number>>();
  for (const e of events) {
    if (e.outcome !== 'ok') continue;
    const key = `${e.type}/${e.imp}`;
    ads.set(key, (ads.get(key) ?? new Set()).add(e.ad));
  }
  return [...ads.values()].filter((set) => set.size > 1).length;
}

interface CrashRun {
  state: CommittedState;
  crashes: number;
  expired: number;
  late: number;
}

/**
 * Batches of random size, each drained and committed with the offset after
 * it (one transaction). Crashes at random points: mid-batch before the commit
 * (sometimes with the dedup store written ahead of the commit), or right after
 * a commit. Each crash restarts from the committed state and offset.
 */
function runWithCrashes(events: readonly TrackedEvent[], rand: () => number): CrashRun {
  const state = new CommittedState(OPTIONS);
  let agg: MinuteAggregator = state.restore();
  const run: CrashRun = { state, crashes: 0, expired: 0, late: 0 };
  let cursor = 0;
  while (cursor < events.length) {
    const end = Math.min(events.length, cursor + 1 + Math.floor(rand() * 40));
    const crashBeforeCommit = run.crashes < 20 && rand() < 0.25;
    const stop = crashBeforeCommit ? cursor + Math.floor(rand() * (end - cursor)) : end;
    for (let i = cursor; i < stop; i++) agg.apply(i, events[i]!);
    const drained = agg.drain();
    run.late += drained.lateEvents;
    if (crashBeforeCommit) {
      if (rand() < 0.5) state.persistDedupOnly(drained.newDedupEntries);
    } else {
      state.commit(drained, end);
      run.expired += agg.expireDedup();
    }
    if (crashBeforeCommit || (run.crashes < 20 && rand() < 0.1)) {
      agg = state.restore();
      run.crashes++;
    }
    cursor = state.nextOffset;
  }
  return run;
}

describe('exactly once across crashes (seeded property test)', () => {
  it(`${SEEDS} random logs with random crash points: committed counts equal one clean run and the oracle`, () => {
    let crashes = 0;
    let expired = 0;
    let late = 0;
    let sharedImps = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const rand = mulberry32(seed);
      const events = generateLog(rand);
      sharedImps += billedOnSeveralAds(events);
      const run = runWithCrashes(events, rand);
      const clean = asRecord(cleanRun(OPTIONS, events));
      assert.deepEqual(asRecord(oracle(events)), clean, `seed ${seed}: clean run vs oracle`);
      assert.deepEqual(asRecord(run.state.totals), clean, `seed ${seed}: crashed run vs clean run`);
      assert.equal(run.state.nextOffset, events.length);
      crashes += run.crashes;
      expired += run.expired;
      late += run.late;
    }
    // The generator must exercise what the invariant is about.
    assert.ok(crashes > SEEDS, `crashes: ${crashes}`);
    assert.ok(expired > 0, `expired dedup entries: ${expired}`);
    assert.ok(late > 0, `late events: ${late}`);
    assert.ok(sharedImps > SEEDS, `imps valid on several ads: ${sharedImps}`);
  });
});
