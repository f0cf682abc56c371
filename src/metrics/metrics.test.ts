import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metrics } from './metrics.js';

async function sample(metrics: Metrics, line: string): Promise<string | undefined> {
  const text = await metrics.registry.metrics();
  return text.split('\n').find((l) => l.startsWith(`${line} `));
}

describe('Metrics recording helpers', () => {
  it('counts requests and events by their labels, as a scrape sees them', async () => {
    const metrics = new Metrics();
    for (let i = 0; i < 3; i++) metrics.recordRequest('click', 302, 0.001);
    metrics.recordRequest('click', 404, 0.002);
    metrics.recordEvent('click', 'ok');
    metrics.recordEvent('click', 'ok');
    metrics.recordEvent('impression', 'bot');
    assert.equal(
      await sample(metrics, 'adtally_http_requests_total{route="click",status="302"}'),
      'adtally_http_requests_total{route="click",status="302"} 3',
    );
    assert.equal(
      await sample(metrics, 'adtally_http_requests_total{route="click",status="404"}'),
      'adtally_http_requests_total{route="click",status="404"} 1',
    );
    assert.equal(
      await sample(metrics, 'adtally_ingest_events_total{type="click",outcome="ok"}'),
      'adtally_ingest_events_total{type="click",outcome="ok"} 2',
    );
    assert.equal(
      await sample(metrics, 'adtally_http_request_duration_seconds_count{route="click"}'),
      'adtally_http_request_duration_seconds_count{route="click"} 4',
    );
  });

  it('adds what was counted since the previous scrape, once', async () => {
    const metrics = new Metrics();
    metrics.recordEvent('click', 'ok');
    await metrics.registry.metrics();
    await metrics.registry.metrics();
    metrics.recordEvent('click', 'ok');
    assert.equal(
      await sample(metrics, 'adtally_ingest_events_total{type="click",outcome="ok"}'),
      'adtally_ingest_events_total{type="click",outcome="ok"} 2',
    );
    const json = await metrics.registry.getMetricsAsJSON();
    const events = json.find((m) => m.name === 'adtally_ingest_events_total');
    assert.deepEqual(events?.values, [{ value: 2, labels: { type: 'click', outcome: 'ok' } }]);
  });
});
