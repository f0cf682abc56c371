import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { removeDir, runCli } from './support/adtally-process.js';

describe('adtally plan', () => {
  it('prints the shape and the figures it rests on, from the results directory given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'adtally-plan-'));
    try {
      writeFileSync(
        join(dir, 'a.json'),
        JSON.stringify({
          date: '2026-01-01',
          commit: 'abc1234',
          ingest_rps: 10_000,
          aggregate_eps_per_core: 150_000,
        }),
      );
      const small = await runCli(['plan', '--events-per-second', '1000', '--peak', '2000', '--results', dir]);
      assert.equal(small.code, 0, small.stderr);
      assert.match(small.stdout, /^shape: one `adtally serve`/m);
      assert.match(small.stdout, /serve_clicks_per_s = 10000, bench\/results\/a\.json/);
      assert.match(
        small.stdout,
        /not measured yet.*\n(.*\n)*\s+- collector_clicks_per_s|archive_bytes_per_event/,
      );

      const big = await runCli([
        'plan',
        '--events-per-second',
        '5000',
        '--peak',
        '8000',
        '--results',
        dir,
        '--json',
      ]);
      assert.equal(big.code, 0, big.stderr);
      const answer = JSON.parse(big.stdout) as { plan: { shape: string; unmeasured: string[] } };
      assert.equal(answer.plan.shape, 'cluster');
      assert.ok(answer.plan.unmeasured.includes('collector_clicks_per_s'));
    } finally {
      removeDir(dir);
    }
  });

  it('exits 2 with the reason for a bad or missing flag', async () => {
    for (const args of [
      [],
      ['--events-per-second', 'many'],
      ['--events-per-second', '10', '--peak', '5'],
      ['--nope'],
    ]) {
      const run = await runCli(['plan', ...args]);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stdout}`);
      assert.match(run.stderr, /^adtally: .+/);
    }
  });
});
