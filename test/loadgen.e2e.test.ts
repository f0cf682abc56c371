import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { emptyCounts } from '../src/aggregate/counts.js';
import type { LoadgenSummary } from '../src/loadgen/loadgen.js';
import { DuckDbAggregateStore } from '../src/store/duckdb/duckdb-aggregate-store.js';
import { DuckDbDatabase } from '../src/store/duckdb/duckdb-database.js';
import {
  AdtallyProcess,
  TEST_ADMIN_TOKEN,
  TEST_SECRET,
  makeDataDir,
  removeDir,
  runCli,
} from './support/adtally-process.js';

const EVERY_KIND = [
  '--dup-rate',
  '0.1',
  '--bad-sig-rate',
  '0.05',
  '--expired-rate',
  '0.05',
  '--bot-rate',
  '0.05',
  '--prefetch-rate',
  '0.05',
  '--late-rate',
  '0.1',
  '--ctr',
  '0.3',
];

/** Adds one billable click to (ad, minute) through the store, as a bug in the pipeline would. */
async function addOneClick(dataDir: string, ad: number, minute: number): Promise<void> {
  const db = await DuckDbDatabase.open(join(dataDir, 'adtally.duckdb'));
  try {
    const store = await DuckDbAggregateStore.create(db);
    const checkpoint = await store.loadCheckpoint('serve');
    assert.ok(checkpoint !== undefined, 'serve has committed');
    await store.commit('serve', {
      deltas: [{ ad, minute, counts: { ...emptyCounts(), clicks: 1 } }],
      lateDeltas: [],
      dedupAdded: [],
      dedupExpireBefore: undefined,
      checkpoint,
    });
  } finally {
    await db.close();
  }
}

describe('adtally loadgen', () => {
  let dir: string;
  let server: AdtallyProcess;
  let truthFile: string;
  let first: LoadgenSummary;

  before(async () => {
    dir = makeDataDir();
    truthFile = join(dir, 'truth.json');
    server = await AdtallyProcess.start(dir);
    const run = await runCli([
      'loadgen',
      '--target',
      server.url,
      '--rate',
      '400',
      '--duration',
      '2s',
      '--ads',
      '5',
      '--zipf',
      '1.2',
      ...EVERY_KIND,
      '--secret',
      TEST_SECRET,
      '--admin-token',
      TEST_ADMIN_TOKEN,
      '--save-truth',
      truthFile,
      '--json',
      '--quiet',
    ]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    first = JSON.parse(run.stdout) as LoadgenSummary;
  });

  after(async () => {
    await server.stop();
    removeDir(dir);
  });

  it('sends every kind of traffic and finds the counts exact', () => {
    assert.equal(first.exact, true);
    assert.equal(first.unknown + first.unexpected, 0);
    assert.ok(first.sent >= 700, `sent ${first.sent}`);
    assert.ok(first.check !== undefined && first.check.events === first.answered);
    assert.equal(first.check.ads, 5);
  });

  it('takes tokens from GET /ad without --secret, and its invalid ones are invalid', async () => {
    // GET /ad picks among every active ad, so this run needs a server of its own.
    const ownDir = makeDataDir();
    const own = await AdtallyProcess.start(ownDir);
    const run = await runCli([
      ...['loadgen', '--target', own.url, '--rate', '300', '--duration', '1500ms', '--ads', '4'],
      ...['--bad-sig-rate', '0.2', '--bot-rate', '0.1', '--dup-rate', '0.1', '--late-rate', '0.1'],
      ...['--admin-token', TEST_ADMIN_TOKEN, '--json', '--quiet'],
    ]).finally(async () => {
      await own.stop();
      removeDir(ownDir);
    });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const summary = JSON.parse(run.stdout) as LoadgenSummary;
    assert.equal(summary.exact, true);
    assert.ok(summary.answered >= 400);
  });

  it('reports exact: false and names the (ad, minute) whose count was altered in the store', async () => {
    await server.stop();
    const checked = first.check!.window!;
    const ad = 3;
    const minute = Date.parse(checked.to) / 60_000 - 1;
    await addOneClick(dir, ad, minute);
    server = await AdtallyProcess.start(dir);
    const args = [
      'loadgen',
      '--target',
      server.url,
      '--admin-token',
      TEST_ADMIN_TOKEN,
      '--check-only',
      truthFile,
    ];
    const run = await runCli([...args, '--json']);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const summary = JSON.parse(run.stdout) as LoadgenSummary;
    assert.equal(summary.exact, false);
    const named = summary.check!.mismatches.filter(
      (m) =>
        m.ad === ad && m.field === 'clicks' && m.fromMinute <= minute * 60_000 && minute * 60_000 <= m.minute,
    );
    assert.equal(named.length, 1, JSON.stringify(summary.check!.mismatches));
    assert.equal(named[0]!.observed, named[0]!.expected.max + 1);
    const human = await runCli(args);
    assert.equal(human.code, 1);
    assert.match(human.stdout, new RegExp(`ad ${ad} minute .*clicks: expected \\d+(-\\d+)?, got \\d+`));
    assert.match(human.stdout, /exact: false/);
  });

  it('rejects bad options with exit status 2 and a reason', async () => {
    const cases: [string[], RegExp][] = [
      [['--rate', 'fast'], /--rate/],
      [['--dup-rate', '1.5'], /--dup-rate: expected a number from 0 to 1/],
      [['--expired-rate', '0.1', '--admin-token', TEST_ADMIN_TOKEN], /--expired-rate needs --secret/],
      [['--target', 'ftp://x'], /--target/],
      [['--late-rate', '0.1', '--late-by', '10s', '--admin-token', TEST_ADMIN_TOKEN], /--late-by/],
      [['--bogus'], /bogus/],
      [['--use-existing'], /--admin-token/],
      [['--check-only', '/nonexistent/truth.json', '--admin-token', TEST_ADMIN_TOKEN], /cannot read/],
    ];
    for (const [args, reason] of cases) {
      const run = await runCli(['loadgen', ...args]);
      assert.equal(run.code, 2, args.join(' '));
      assert.match(run.stderr, reason);
    }
  });
});
