import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { INVALID_REASONS, type Bucket } from './api.js';

/** Colours picked for contrast on the page's white background (each >= 3:1, WCAG non-text). */
const COLORS = {
  impressions: '#1f5fa8',
  clicks: '#b3261e',
  ctr: '#5b5b00',
  duplicate: '#7a4d00',
  bot: '#6a1b9a',
  prefetch: '#00695c',
  bad_signature: '#ad1457',
  expired: '#37474f',
} as const;

const REASON_LABEL: Record<string, string> = {
  duplicate: 'duplicate',
  bot: 'bot',
  prefetch: 'prefetch',
  bad_signature: 'bad signature',
  expired: 'expired',
};

export interface ChartInput {
  series: readonly Bucket[];
  watermarkMs: number | undefined;
}

const seconds = (iso: string): number => Date.parse(iso) / 1000;

/**
 * Shades the provisional buckets (not final yet: their counts may still grow)
 * and draws the watermark, so the eye tells settled counts from live ones.
 */
function finalityHook(input: () => ChartInput) {
  return (u: uPlot): void => {
    const { series, watermarkMs } = input();
    const firstOpen = series.findIndex((b) => !b.final);
    const { ctx, bbox } = u;
    ctx.save();
    if (firstOpen !== -1) {
      const x = Math.max(bbox.left, u.valToPos(seconds(series[firstOpen]!.ts), 'x', true));
      ctx.fillStyle = 'rgba(255, 193, 7, 0.16)';
      ctx.fillRect(x, bbox.top, bbox.left + bbox.width - x, bbox.height);
      ctx.fillStyle = '#5c4400';
      ctx.font = `${12 * devicePixelRatio}px system-ui, sans-serif`;
      ctx.fillText('provisional', x + 4 * devicePixelRatio, bbox.top + 14 * devicePixelRatio);
    }
    if (watermarkMs !== undefined) {
      const x = u.valToPos(watermarkMs / 1000, 'x', true);
      if (x >= bbox.left && x <= bbox.left + bbox.width) {
        ctx.strokeStyle = '#5c4400';
        ctx.lineWidth = devicePixelRatio;
        ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
        ctx.beginPath();
        ctx.moveTo(x, bbox.top);
        ctx.lineTo(x, bbox.top + bbox.height);
        ctx.stroke();
        ctx.fillStyle = '#5c4400';
        ctx.font = `${12 * devicePixelRatio}px system-ui, sans-serif`;
        ctx.textAlign = 'right';
        ctx.fillText('watermark', x - 4 * devicePixelRatio, bbox.top + bbox.height - 6 * devicePixelRatio);
      }
    }
    ctx.restore();
  };
}

/** Counts start at zero: an axis from 2 to 5 would make a small share look like all of it. */
const fromZero = (_u: uPlot, _min: number | null, max: number | null): uPlot.Range.MinMax => [
  0,
  max === null || max <= 0 ? 1 : max * 1.08,
];

function width(el: HTMLElement): number {
  return Math.max(280, Math.floor(el.getBoundingClientRect().width));
}

/** The traffic chart (impressions, clicks, CTR) and the invalid chart (stacked by reason). */
export class TrafficCharts {
  private traffic: uPlot | undefined;
  private invalid: uPlot | undefined;
  private input: ChartInput = { series: [], watermarkMs: undefined };
  /** Per-reason values, for the legend (the plotted values are running sums). */
  private raw: number[][] = [];
  private readonly resize = new ResizeObserver(() => this.fit());

  constructor(
    private readonly trafficEl: HTMLElement,
    private readonly invalidEl: HTMLElement,
  ) {
    this.resize.observe(trafficEl);
  }

  /** Draws `input`; the first call creates the charts, later calls only swap their data. */
  draw(input: ChartInput): void {
    this.input = input;
    const xs = input.series.map((b) => seconds(b.ts));
    const traffic: uPlot.AlignedData = [
      xs,
      input.series.map((b) => b.impressions),
      input.series.map((b) => b.clicks),
      input.series.map((b) => (b.impressions === 0 ? null : b.ctr * 100)),
    ];
    this.raw = INVALID_REASONS.map((r) => input.series.map((b) => b.invalid[r]));
    // Stacked: each series is the sum of the reasons up to it, drawn top first so lower ones cover it.
    const stacked: number[][] = [];
    let running = input.series.map(() => 0);
    for (const values of this.raw) {
      running = running.map((v, i) => v + values[i]!);
      stacked.push(running);
    }
    const invalid: uPlot.AlignedData = [xs, ...stacked.slice().reverse()];
    if (this.traffic === undefined || this.invalid === undefined) this.create(traffic, invalid);
    else {
      this.traffic.setData(traffic);
      this.invalid.setData(invalid);
    }
  }

  destroy(): void {
    this.resize.disconnect();
    this.traffic?.destroy();
    this.invalid?.destroy();
  }

  private create(traffic: uPlot.AlignedData, invalid: uPlot.AlignedData): void {
    const hook = finalityHook(() => this.input);
    const common = {
      width: width(this.trafficEl),
      cursor: { drag: { x: false, y: false } },
      hooks: { draw: [hook] },
    };
    this.traffic = new uPlot(
      {
        ...common,
        height: 260,
        scales: { y: { range: fromZero }, ctr: { range: fromZero } },
        series: [
          {},
          { label: 'impressions', stroke: COLORS.impressions, width: 2, fill: 'rgba(31, 95, 168, 0.08)' },
          { label: 'clicks', stroke: COLORS.clicks, width: 2 },
          {
            label: 'CTR %',
            stroke: COLORS.ctr,
            width: 1,
            dash: [6, 4],
            scale: 'ctr',
            value: (_u, v) => (v === null ? '-' : `${v.toFixed(2)} %`),
          },
        ],
        axes: [
          {},
          { label: 'events', size: 60 },
          { scale: 'ctr', side: 1, label: 'CTR %', grid: { show: false } },
        ],
      },
      traffic,
      this.trafficEl,
    );
    const reasons = INVALID_REASONS.slice().reverse();
    this.invalid = new uPlot(
      {
        ...common,
        height: 180,
        scales: { y: { range: fromZero } },
        series: [
          {},
          ...reasons.map((r, i) => ({
            label: REASON_LABEL[r] ?? r,
            stroke: COLORS[r],
            fill: `${COLORS[r]}66`,
            width: 1,
            // The legend shows this reason's own count, not the running sum that is plotted.
            value: (_u: uPlot, _v: number | null, _si: number, idx: number | null) =>
              idx === null ? '-' : String(this.raw[INVALID_REASONS.length - 1 - i]?.[idx] ?? 0),
          })),
        ],
        axes: [{}, { label: 'invalid', size: 60 }],
      },
      invalid,
      this.invalidEl,
    );
  }

  private fit(): void {
    const w = width(this.trafficEl);
    this.traffic?.setSize({ width: w, height: 260 });
    this.invalid?.setSize({ width: w, height: 180 });
  }
}
