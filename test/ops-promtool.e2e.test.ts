import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  AdtallyProcess,
  CHROME_UA,
  adminApi,
  makeDataDir,
  removeDir,
  tokenQuery,
} from './support/adtally-process.js';

const ROOT = join(import.meta.dirname, '..', '..');
const RULES = join(ROOT, 'ops', 'prometheus-alerts.yml');
const DASHBOARD = join(ROOT, 'ops', 'grafana-dashboard.json');

/** promtool from Debian's prometheus package, installed by the repo's script when missing. */
function promtool(args: string[], input?: string): { status: number | null; output: string } {
  const ensured = spawnSync('bash', [join(ROOT, 'scripts', 'services', 'ensure-promtool.sh')], {
    encoding: 'utf8',
  });
  assert.equal(ensured.status, 0, `promtool is not available: ${ensured.stderr}`);
  const run = spawnSync('promtool', args, { input, encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** Every adtally_* metric name the compiled source declares (serve's, and the cluster processes'). */
function declaredMetricNames(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.js') && !name.endsWith('.test.js')) {
        for (const m of readFileSync(path, 'utf8').matchAll(/['"`](adtally_[a-z_]+)['"`]/g)) names.add(m[1]!);
      }
    }
  };
  walk(join(ROOT, 'dist', 'src'));
  return names;
}

/** Names in a PromQL text, with the series suffixes a histogram adds stripped. */
function namesIn(text: string): string[] {
  return [...text.matchAll(/\b(adtally_[a-z_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, ''));
}

describe('ops/ (Prometheus rules, Grafana dashboard) against promtool and a live /metrics', () => {
  it('the alert rules pass promtool check rules', () => {
    const { status, output } = promtool(['check', 'rules', RULES]);
    assert.equal(status, 0, output);
    assert.match(output, /SUCCESS: \d+ rules found/);
  });

  it('the live /metrics of serve under traffic passes promtool check metrics', async () => {
    const dataDir = makeDataDir();
    const server = await AdtallyProcess.start(dataDir);
    try {
      const { adIds } = await adminApi(server.url).seed(1);
      for (let i = 0; i < 5; i++) {
        await fetch(`${server.url}/click?${tokenQuery(adIds[0]!, `imp_promtool_${i}`)}`, {
          redirect: 'manual',
          headers: { 'user-agent': CHROME_UA },
        });
      }
      const text = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(
        text,
        /^adtally_ready\{check="store"\} 1$/m,
        'readiness is a metric the rules can alert on',
      );
      const { status, output } = promtool(['check', 'metrics'], text);
      assert.equal(status, 0, output);
    } finally {
      await server.stop();
      removeDir(dataDir);
    }
  });

  it('the rules and the dashboard name only metrics adtally exports', () => {
    const declared = declaredMetricNames();
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    assert.ok(dashboard.panels.length >= 10);
    const used = [
      ...namesIn(readFileSync(RULES, 'utf8')),
      ...dashboard.panels.flatMap((p) => p.targets.flatMap((t) => namesIn(t.expr))),
    ];
    const unknown = [...new Set(used)].filter(
      (name) => !declared.has(name) && !declared.has(`${name}_total`),
    );
    assert.deepEqual(unknown, [], 'metric names in ops/ that no source file declares');
  });
});
