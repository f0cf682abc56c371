#!/usr/bin/env node
// Runs the compiled test files with node's own runner. `unit` runs only the
// fast pure tests (*.test.js that are not integration or e2e).
//
// Other tiers get one shared Kafka broker (scripts/services/kafka.sh, its own
// state dir under tmp), passed to the tests as ADTALLY_TEST_KAFKA and stopped
// at the end; a set ADTALLY_TEST_KAFKA is used as it is and nothing is started.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const tier = process.argv[2] ?? 'all';
const roots = ['dist/src', 'dist/test'];

function walk(dir, out) {
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

const files = roots
  .flatMap((root) => walk(root, []))
  .filter((f) => tier === 'all' || !/\.(integration|e2e)\.test\.js$/.test(f))
  .sort();
if (files.length === 0) {
  console.error('no test files found: run `npm run build` first');
  process.exit(1);
}

const kafkaScript = join(import.meta.dirname, 'services', 'kafka.sh');
let kafkaState;
const env = { ...process.env };
if (tier !== 'unit' && !env.ADTALLY_TEST_KAFKA) {
  kafkaState = mkdtempSync(join(tmpdir(), 'adtally-test-kafka-'));
  const started = spawnSync('bash', [kafkaScript, 'start', kafkaState], { stdio: ['ignore', 'pipe', 'inherit'] });
  if (started.status !== 0) {
    console.error('the shared test Kafka broker did not start');
    rmSync(kafkaState, { recursive: true, force: true });
    process.exit(1);
  }
  env.ADTALLY_TEST_KAFKA = started.stdout.toString().trim();
  console.error(`shared test Kafka broker at ${env.ADTALLY_TEST_KAFKA}`);
}
let status;
try {
  const result = spawnSync(
    process.execPath,
    ['--test', '--test-reporter=spec', '--test-concurrency=2', ...files],
    { stdio: 'inherit', env },
  );
  status = result.status ?? 1;
} finally {
  if (kafkaState) {
    spawnSync('bash', [kafkaScript, 'stop', kafkaState], { stdio: 'inherit' });
    rmSync(kafkaState, { recursive: true, force: true });
  }
}
process.exit(status);
