import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from './support/adtally-process.js';

void test('the cluster commands refuse missing and malformed settings with exit 2 and one line', async () => {
  const missing = await runCli(['collector'], { ADTALLY_SECRET: 'a-secret-of-24-characters' });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^adtally: --log \(or ADTALLY_LOG\) is required/);
  assert.equal(missing.stderr.trim().split('\n').length, 1);
  const malformed = await runCli([
    'worker',
    '--log',
    'kafka://127.0.0.1:9092/',
    '--store',
    'postgres://postgres@127.0.0.1:5432/x',
    '--dedup',
    'redis://127.0.0.1:6379',
  ]);
  assert.equal(malformed.code, 2);
  assert.match(malformed.stderr, /invalid event log URL "kafka:\/\/127.0.0.1:9092\/"/);
  const help = await runCli(['api', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: adtally api/);
});

void test('a worker whose dedup store cannot be reached stops at start with exit 1 and the reason', async () => {
  const result = await runCli([
    'worker',
    '--port',
    '0',
    '--log',
    'kafka://127.0.0.1:9/events',
    '--store',
    'postgres://postgres@127.0.0.1:5432/postgres',
    '--dedup',
    'redis://127.0.0.1:9',
  ]);
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /^adtally: .*(Redis|redis).*127\.0\.0\.1:9/m);
});
