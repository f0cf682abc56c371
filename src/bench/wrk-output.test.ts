import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWrkOutput, type WrkOutput } from './wrk-output.js';

/** A report of wrk 4.1.0 (Debian) with every optional line, as printed against a failing server. */
const FULL = `Running 10s test @ http://127.0.0.1:41873
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.88ms    9.66ms   1.02s    96.12%
    Req/Sec    16.51k     1.90k   21.57k    60.00%
  Latency Distribution
     50%  812.00us
     75%    1.72ms
     90%    4.50ms
     99%    1.50s
  165112 requests in 10.01s, 25.33MB read
  Socket errors: connect 2, read 13, write 1, timeout 7
  Non-2xx or 3xx responses: 31
Requests/sec:  16494.75
Transfer/sec:      2.53MB
adtally-wrk {"paths":165180,"wraps":0,"p999Us":1498211,"maxUs":1020431,"requests":165112,"durationUs":10010124}
`;

/** A clean run: no socket errors, every answer a 302, wrk's own script not loaded. */
const CLEAN = `Running 1s test @ http://127.0.0.1:18931
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   195.31us   40.11us   2.00ms   91.00%
    Req/Sec    20.11k     1.00k   21.00k    70.00%
  Latency Distribution
     50%  190.00us
     75%  200.00us
     90%  230.00us
     99%  400.00us
  20311 requests in 1.00m, 3.10MB read
Requests/sec:    338.51
Transfer/sec:     52.90KB
`;

test('reads every figure of a full report, units and optional lines included', () => {
  const out = parseWrkOutput(FULL) as WrkOutput;
  assert.ok(!('rejected' in out));
  assert.equal(out.requests, 165_112);
  assert.equal(out.durationSeconds, 10.01);
  assert.equal(out.requestsPerSecond, 16_494.75);
  assert.deepEqual(out.latencyMs, { avg: 3.88, max: 1020, p50: 0.812, p75: 1.72, p90: 4.5, p99: 1500 });
  assert.equal(out.non2xx3xx, 31);
  assert.deepEqual(out.socketErrors, { connect: 2, read: 13, write: 1, timeout: 7 });
  assert.deepEqual(out.script, {
    paths: 165_180,
    wraps: 0,
    p999Us: 1_498_211,
    maxUs: 1_020_431,
    requests: 165_112,
    durationUs: 10_010_124,
  });
});

test('lines wrk leaves out when their counts are zero read as zero', () => {
  const out = parseWrkOutput(CLEAN) as WrkOutput;
  assert.ok(!('rejected' in out));
  assert.equal(out.non2xx3xx, 0);
  assert.deepEqual(out.socketErrors, { connect: 0, read: 0, write: 0, timeout: 0 });
  assert.equal(out.durationSeconds, 60, 'minutes');
  assert.equal(out.latencyMs.p99, 0.4);
  assert.equal(out.script, undefined);
});

test('a report that lacks a figure is rejected with the reason, never read as zero', () => {
  const cases: [string, RegExp][] = [
    ['', /no "Latency" line/],
    ['unable to connect to 127.0.0.1:1 Connection refused\n', /no "Latency" line/],
    [FULL.replace(/ {2}Latency Distribution[\s\S]*?99%.*\n/, ''), /--latency/],
    [FULL.replace(/^Requests\/sec:.*$/m, ''), /Requests\/sec/],
    [FULL.replace(/^.*requests in.*$/m, ''), /requests in/],
    [FULL.replace(/"wraps":0,/, ''), /lacks "wraps"/],
    [FULL.replace(/adtally-wrk \{.*\}/, 'adtally-wrk {"paths":1,'), /not JSON/],
  ];
  for (const [text, reason] of cases) {
    const out = parseWrkOutput(text);
    assert.ok('rejected' in out, String(reason));
    assert.match(out.rejected, reason);
  }
});
