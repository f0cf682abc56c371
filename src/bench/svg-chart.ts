/** One line of the chart. Points need not be sorted; non-finite ones (and y <= 0 on a log axis) are left out. */
export interface ChartSeries {
  readonly name: string;
  readonly points: readonly { readonly x: number; readonly y: number }[];
}

export interface LineChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly ChartSeries[];
  /** Whole image in px (default 720 x 420). */
  readonly width?: number;
  readonly height?: number;
  /** Logarithmic y axis, ticks at 1-2-5 or whole decades; otherwise linear from 0 when all y >= 0. */
  readonly logY?: boolean;
}

/** Tableau 10: distinct in colour and still apart in greyscale. */
const COLOURS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7'];
const MARGIN = { top: 44, bottom: 52, left: 72 };
const FONT = 'font-family="sans-serif" font-size="12"';

interface Axis {
  readonly lo: number;
  readonly hi: number;
  readonly ticks: number[];
  /** Where a value falls between lo (0) and hi (1). */
  readonly fraction: (v: number) => number;
}

/** Escapes text for XML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[c]};`,
  );
}

/** Drops floating-point noise (0.30000000000000004 → 0.3). */
const clean = (v: number): number => Number(v.toPrecision(12));

/** Short tick label: 2500 → "2.5k", 0.25 → "0.25". */
export function formatTick(v: number): string {
  const abs = Math.abs(v);
  if (abs >= 1e6) return `${clean(v / 1e6)}M`;
  if (abs >= 1e3) return `${clean(v / 1e3)}k`;
  return String(clean(v));
}

/** Linear axis over [min, max] with about `count` ticks at 1, 2, 2.5 or 5 times a power of ten. */
export function linearAxis(min: number, max: number, count = 5): Axis {
  if (!(max > min)) {
    // One value (or none): widen around it so the scale never divides by zero.
    const pad = Math.abs(min) * 0.1 || 1;
    return linearAxis(min - pad, max + pad, count);
  }
  const raw = (max - min) / count;
  const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / magnitude;
  const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * magnitude;
  const lo = clean(Math.floor(min / step) * step);
  const hi = clean(Math.ceil(max / step) * step);
  const ticks: number[] = [];
  for (let i = 0, n = Math.round((hi - lo) / step); i <= n; i++) ticks.push(clean(lo + i * step));
  return { lo, hi, ticks, fraction: (v) => (v - lo) / (hi - lo) };
}

/** Log axis over whole decades around [min, max] (both > 0). */
export function logAxis(min: number, max: number): Axis {
  const loExp = Math.floor(Math.log10(min));
  const hiExp = Math.max(Math.ceil(Math.log10(max)), loExp + 1);
  const decades = hiExp - loExp;
  const ticks: number[] = [];
  const every = Math.ceil(decades / 6);
  for (let e = loExp; e <= hiExp; e += every) {
    ticks.push(clean(Math.pow(10, e)));
    if (decades <= 2 && e < hiExp) ticks.push(clean(2 * Math.pow(10, e)), clean(5 * Math.pow(10, e)));
  }
  const lo = Math.pow(10, loExp);
  const hi = Math.pow(10, hiExp);
  return { lo, hi, ticks, fraction: (v) => (Math.log10(v) - loExp) / decades };
}

/** [min, max] without spreading (which overflows the stack on very long arrays). */
function extent(values: number[]): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

const fixed = (v: number): string => String(Math.round(v * 10) / 10);

/**
 * A standalone SVG line chart (no dependencies, no script): title, axes with
 * "nice" ticks, one polyline with point markers per series in distinct
 * colours, and a legend. Pure: the same options give the same string.
 */
export function renderLineChart(options: LineChartOptions): string {
  const width = options.width ?? 720;
  const height = options.height ?? 420;
  const logY = options.logY ?? false;
  const series = options.series.map((s) => ({
    name: s.name,
    points: s.points
      .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!logY || p.y > 0))
      .sort((a, b) => a.x - b.x),
  }));
  const all = series.flatMap((s) => s.points);
  const [xMin, xMax] = extent(all.map((p) => p.x));
  const [yMin, yMax] = extent(all.map((p) => p.y));
  const xAxis = all.length === 0 ? linearAxis(0, 1) : linearAxis(xMin, xMax);
  let yAxis: Axis;
  if (all.length === 0) yAxis = logY ? logAxis(1, 10) : linearAxis(0, 1);
  else if (logY) yAxis = logAxis(yMin, yMax);
  else yAxis = linearAxis(Math.min(0, yMin), yMax);

  // Legend column on the right, sized for the longest name (about 7 px a character at 12 px).
  const longest = series.reduce((n, s) => Math.max(n, s.name.length), 0);
  const right = Math.min(60 + 7 * longest, width / 2);
  const box = {
    x: MARGIN.left,
    y: MARGIN.top,
    w: Math.max(width - MARGIN.left - right, 10),
    h: Math.max(height - MARGIN.top - MARGIN.bottom, 10),
  };
  const px = (x: number): number => box.x + xAxis.fraction(x) * box.w;
  const py = (y: number): number => box.y + box.h - yAxis.fraction(y) * box.h;

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<title>${escapeXml(options.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${fixed(width / 2)}" y="24" text-anchor="middle" font-family="sans-serif" font-size="16" font-weight="bold">${escapeXml(options.title)}</text>`,
    `<rect class="plot" x="${box.x}" y="${box.y}" width="${box.w}" height="${box.h}" fill="none" stroke="#333333"/>`,
  ];
  for (const t of xAxis.ticks) {
    const x = fixed(px(t));
    out.push(
      `<line x1="${x}" y1="${box.y}" x2="${x}" y2="${box.y + box.h}" stroke="#e0e0e0"/>`,
      `<text x="${x}" y="${box.y + box.h + 16}" text-anchor="middle" ${FONT}>${formatTick(t)}</text>`,
    );
  }
  for (const t of yAxis.ticks) {
    const y = fixed(py(t));
    out.push(
      `<line x1="${box.x}" y1="${y}" x2="${box.x + box.w}" y2="${y}" stroke="#e0e0e0"/>`,
      `<text x="${box.x - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" ${FONT}>${formatTick(t)}</text>`,
    );
  }
  out.push(
    `<text x="${fixed(box.x + box.w / 2)}" y="${height - 12}" text-anchor="middle" ${FONT}>${escapeXml(options.xLabel)}</text>`,
    `<text transform="translate(16 ${fixed(box.y + box.h / 2)}) rotate(-90)" text-anchor="middle" ${FONT}>${escapeXml(options.yLabel)}</text>`,
  );

  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const coords = s.points.map((p) => `${fixed(px(p.x))},${fixed(py(p.y))}`);
    out.push(`<g class="series" data-name="${escapeXml(s.name)}">`);
    if (coords.length > 1)
      out.push(`<polyline points="${coords.join(' ')}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    for (const c of coords) {
      const [cx, cy] = c.split(',');
      out.push(`<circle class="point" cx="${cx}" cy="${cy}" r="3" fill="${colour}"/>`);
    }
    const ly = box.y + 8 + i * 20;
    const lx = box.x + box.w + 16;
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 20}" y2="${ly}" stroke="${colour}" stroke-width="2"/>`,
      `<circle cx="${lx + 10}" cy="${ly}" r="3" fill="${colour}"/>`,
      `<text x="${lx + 26}" y="${ly}" dominant-baseline="middle" ${FONT}>${escapeXml(s.name)}</text>`,
      `</g>`,
    );
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
