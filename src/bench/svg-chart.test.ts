import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  escapeXml,
  formatTick,
  linearAxis,
  logAxis,
  renderLineChart,
  type ChartSeries,
} from './svg-chart.js';

/** Throws unless every element opened is closed in order and every `&` starts an entity. */
function assertWellFormed(svg: string): void {
  assert.ok(svg.startsWith('<svg '), 'starts with <svg');
  assert.ok(svg.trimEnd().endsWith('</svg>'), 'ends with </svg>');
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([A-Za-z][\w-]*)((?:[^>"]|"[^"]*")*?)(\/?)>/g)) {
    const [, closing, name, , selfClosing] = m;
    if (selfClosing === '/') continue;
    if (closing === '/') assert.equal(stack.pop(), name, `</${name}> closes the open element`);
    else stack.push(name!);
  }
  assert.deepEqual(stack, [], 'every element is closed');
  assert.doesNotMatch(svg, /&(?!(amp|lt|gt|quot|apos);)/, 'bare &');
  // Text and attribute values hold no raw < or > once tags are removed.
  assert.doesNotMatch(svg.replace(/<(?:[^>"]|"[^"]*")*>/g, ''), /[<>]/);
}

function plotBox(svg: string): { x: number; y: number; w: number; h: number } {
  const m = /<rect class="plot" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"/.exec(svg);
  assert.ok(m, 'plot box present');
  return { x: Number(m[1]), y: Number(m[2]), w: Number(m[3]), h: Number(m[4]) };
}

function points(svg: string): { cx: number; cy: number }[] {
  return [...svg.matchAll(/<circle class="point" cx="([-\d.]+)" cy="([-\d.]+)"/g)].map((m) => ({
    cx: Number(m[1]),
    cy: Number(m[2]),
  }));
}

const BASE = {
  title: 'Click latency p99 vs offered rate',
  xLabel: 'offered rate (req/s)',
  yLabel: 'p99 (ms)',
};

void test('a two-series chart is well formed, names escaped, every point inside the plot box', () => {
  const series: ChartSeries[] = [
    { name: 'bare node:http', points: [1000, 2000, 4000, 8000].map((x, i) => ({ x, y: 0.8 + i * 0.3 })) },
    { name: 'adtally <&> "file"', points: [1000, 2000, 4000, 8000].map((x, i) => ({ x, y: 2 + i * i * 4 })) },
  ];
  for (const logY of [false, true]) {
    const svg = renderLineChart({ ...BASE, series, logY });
    assertWellFormed(svg);
    assert.ok(svg.includes('bare node:http'));
    assert.ok(svg.includes('adtally &lt;&amp;&gt; &quot;file&quot;'));
    assert.ok(!svg.includes('<&>'));
    assert.equal((svg.match(/<polyline /g) ?? []).length, 2);
    const box = plotBox(svg);
    const ps = points(svg);
    assert.equal(ps.length, 8);
    for (const p of ps) {
      assert.ok(p.cx >= box.x && p.cx <= box.x + box.w, `cx ${p.cx} in box`);
      assert.ok(p.cy >= box.y && p.cy <= box.y + box.h, `cy ${p.cy} in box`);
    }
    // Larger y is higher on screen; larger x further right (same series, sorted input).
    assert.ok(ps[5]!.cy < ps[4]!.cy && ps[5]!.cx > ps[4]!.cx);
    assert.doesNotMatch(svg, /NaN|Infinity|undefined/);
  }
});

void test('edge cases render without NaN: one point, all-equal y, empty series, nothing at all', () => {
  const cases: ChartSeries[][] = [
    [{ name: 'one', points: [{ x: 5, y: 3 }] }],
    [{ name: 'flat', points: [1, 2, 3].map((x) => ({ x, y: 7 })) }],
    [{ name: 'zero', points: [{ x: 0, y: 0 }] }],
    [{ name: 'empty', points: [] }],
    [],
    [
      {
        name: 'junk',
        points: [
          { x: NaN, y: 1 },
          { x: 1, y: Infinity },
          { x: 2, y: -1 },
        ],
      },
    ],
  ];
  for (const series of cases) {
    for (const logY of [false, true]) {
      const svg = renderLineChart({ ...BASE, series, logY, width: 400, height: 300 });
      assertWellFormed(svg);
      assert.doesNotMatch(svg, /NaN|Infinity|undefined/, JSON.stringify({ series, logY }));
      for (const s of series) assert.ok(svg.includes(escapeXml(s.name)));
      const box = plotBox(svg);
      for (const p of points(svg)) {
        assert.ok(p.cx >= box.x && p.cx <= box.x + box.w);
        assert.ok(p.cy >= box.y && p.cy <= box.y + box.h);
      }
    }
  }
  // A single point gets its marker but no one-point polyline.
  const one = renderLineChart({ ...BASE, series: [{ name: 'one', points: [{ x: 5, y: 3 }] }] });
  assert.equal(points(one).length, 1);
  assert.doesNotMatch(one, /<polyline/);
});

void test('series get distinct colours', () => {
  const series = Array.from({ length: 4 }, (_, i) => ({ name: `s${i}`, points: [{ x: i, y: i + 1 }] }));
  const svg = renderLineChart({ ...BASE, series });
  const colours = [...svg.matchAll(/<circle class="point"[^>]*fill="(#[0-9a-f]{6})"/g)].map((m) => m[1]);
  assert.equal(new Set(colours).size, 4);
});

void test('axes have about five nice ticks covering the data', () => {
  const a = linearAxis(0, 9.3);
  assert.deepEqual(a.ticks, [0, 2, 4, 6, 8, 10]);
  const b = linearAxis(1000, 8000);
  assert.deepEqual(b.ticks, [0, 2000, 4000, 6000, 8000]);
  const c = linearAxis(0.1, 0.37);
  assert.ok(c.lo <= 0.1 && c.hi >= 0.37 && c.ticks.length >= 3 && c.ticks.length <= 8, JSON.stringify(c));
  assert.deepEqual(
    c.ticks.map(String),
    c.ticks.map((t) => String(Number(t.toPrecision(6)))),
  );
  const flat = linearAxis(5, 5);
  assert.ok(flat.lo < 5 && flat.hi > 5);
  assert.deepEqual(logAxis(0.8, 9).ticks, [0.1, 0.2, 0.5, 1, 2, 5, 10]);
  assert.deepEqual(logAxis(1, 1e6).ticks, [1, 10, 100, 1000, 10000, 100000, 1000000]);
  assert.equal(formatTick(2500), '2.5k');
  assert.equal(formatTick(0.30000000000000004), '0.3');
  assert.equal(formatTick(2_000_000), '2M');
});
