// ns per click for the metrics a click records: request count and latency
// (recordRequest), the log append latency histogram and the event counter.
import { Metrics } from '../../../dist/src/metrics/metrics.js';
import { compare } from './timing.mjs';

const m = new Metrics();
const child = m.httpLatency.labels('click');
compare(
  {
    'recordRequest': (i) => (m.recordRequest('click', 302, 0.001 + (i & 7) * 0.001), true),
    'recordEvent': () => (m.recordEvent('click', 'ok'), true),
    'logAppendLatency.observe': (i) => (m.logAppendLatency.observe(0.001 + (i & 7) * 0.001), true),
    'labelled child observe': (i) => (child.observe(0.001 + (i & 7) * 0.001), true),
    'performance.now()': () => performance.now() > 0,
  },
  { iterations: Number(process.env.N ?? 500_000) },
);
