import assert from 'node:assert/strict';
import { cpuUsage } from 'node:process';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LATE_FIRE_MS, runClosedLoop, runOpenLoop } from './rate-driver.js';

function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('runOpenLoop', () => {
  it('fires every request once, on schedule, with its scheduled time, and stops at the duration', async () => {
    const scheduled: number[] = [];
    const firedLate: number[] = [];
    const ticks: [number, number][] = [];
    const before = performance.now();
    const result = await runOpenLoop({
      ratePerSecond: 2_000,
      durationMs: 300,
      fire: (at) => {
        scheduled.push(at);
        firedLate.push(performance.now() - at);
      },
      onTick: (now, n) => ticks.push([now, n]),
    });
    const after = performance.now();
    assert.equal(result.scheduled, 600);
    assert.equal(scheduled.length, 600);
    const start = scheduled[0]!;
    assert.ok(start >= before && start - before < 5);
    scheduled.forEach((at, i) =>
      assert.ok(Math.abs(at - (start + i * 0.5)) < 1e-6, `request ${i} at ${at - start}`),
    );
    assert.ok(
      firedLate.every((d) => d >= 0),
      'a request was fired before it was due',
    );
    assert.ok(result.elapsedMs >= 300 && after - before < 600, `took ${after - before} ms`);
    assert.ok(ticks.length > 10, `${ticks.length} ticks`);
    assert.ok(ticks.every(([now, n], i) => i === 0 || (now >= ticks[i - 1]![0] && n >= ticks[i - 1]![1])));
    assert.equal(ticks.at(-1)![1], 600);
  });

  it('catches up after a stall: all due requests fire with their own times, and the late ones are counted', async () => {
    const scheduled: number[] = [];
    let observedLate = 0;
    const result = await runOpenLoop({
      ratePerSecond: 1_000,
      durationMs: 200,
      fire: (at) => {
        if (performance.now() - at > LATE_FIRE_MS) observedLate++;
        if (scheduled.length === 0) busyWait(60);
        scheduled.push(at);
      },
    });
    assert.equal(result.scheduled, 200);
    assert.equal(scheduled.length, 200);
    for (let i = 1; i < scheduled.length; i++)
      assert.ok(Math.abs(scheduled[i]! - scheduled[i - 1]! - 1) < 1e-6);
    // Requests 1 to 60 came due during the stall, and 1 to 50 were over 10 ms late when it ended
    // (more on a loaded machine): the count must agree with what fire itself saw.
    assert.ok(result.lateFires >= 45, `${result.lateFires} late fires`);
    assert.ok(
      Math.abs(result.lateFires - observedLate) <= 3,
      `${result.lateFires} vs ${observedLate} seen late`,
    );
  });

  it('sleeps between ticks instead of spinning', async () => {
    const cpuBefore = cpuUsage();
    const result = await runOpenLoop({ ratePerSecond: 5_000, durationMs: 400, fire: () => {} });
    const cpu = cpuUsage(cpuBefore);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    assert.ok(
      cpuMs < result.elapsedMs * 0.5,
      `${cpuMs.toFixed(0)} ms of CPU in ${result.elapsedMs.toFixed(0)} ms`,
    );
  });

  it('fires nothing for a zero duration and refuses a bad rate', async () => {
    let fired = 0;
    const result = await runOpenLoop({ ratePerSecond: 1_000, durationMs: 0, fire: () => fired++ });
    assert.equal(result.scheduled, 0);
    assert.equal(fired, 0);
    for (const ratePerSecond of [0, -1, NaN, Infinity]) {
      assert.throws(() => runOpenLoop({ ratePerSecond, durationMs: 10, fire: () => {} }), RangeError);
    }
  });

  it('rejects when fire throws, and fires nothing after', async () => {
    let fired = 0;
    const run = runOpenLoop({
      ratePerSecond: 1_000,
      durationMs: 200,
      fire: () => {
        if (++fired === 5) throw new Error('boom');
      },
    });
    await assert.rejects(run, /boom/);
    await sleep(20);
    assert.equal(fired, 5);
  });
});

describe('runClosedLoop', () => {
  it('keeps exactly `concurrency` requests outstanding until the duration, then waits for them', async () => {
    let outstanding = 0;
    let most = 0;
    let started = 0;
    const result = await runClosedLoop({
      concurrency: 4,
      durationMs: 200,
      fire: async () => {
        started++;
        most = Math.max(most, ++outstanding);
        await sleep(10);
        outstanding--;
      },
    });
    assert.equal(most, 4);
    assert.equal(outstanding, 0);
    assert.equal(result.completed, started);
    // 4 workers, each about 20 rounds of 10-11 ms in 200 ms.
    assert.ok(result.completed >= 40 && result.completed <= 84, `${result.completed} completed`);
    assert.ok(result.elapsedMs >= 200 && result.elapsedMs < 400, `${result.elapsedMs} ms`);
  });

  it('stops every worker and rejects with the first error', async () => {
    let calls = 0;
    const run = runClosedLoop({
      concurrency: 3,
      durationMs: 5_000,
      fire: async () => {
        calls++;
        await sleep(5);
        if (calls >= 10) throw new Error(`failure at ${calls}`);
      },
    });
    const before = performance.now();
    await assert.rejects(run, /failure at/);
    assert.ok(performance.now() - before < 1_000);
    const callsAtEnd = calls;
    await sleep(30);
    assert.equal(calls, callsAtEnd);
  });

  it('refuses a bad concurrency', async () => {
    await assert.rejects(
      runClosedLoop({ concurrency: 0, durationMs: 10, fire: () => Promise.resolve() }),
      RangeError,
    );
  });
});
