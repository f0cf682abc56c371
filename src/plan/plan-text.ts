import type { CapacityPlan } from './capacity-plan.js';
import { FIGURE_MEANING, type MeasuredFigures } from './measured-figures.js';

function bytes(n: number | undefined): string {
  if (n === undefined) return 'not measured yet';
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let v = n;
  let unit = 0;
  while (v >= 1000 && unit < units.length - 1) {
    v /= 1000;
    unit++;
  }
  return `${v >= 100 ? Math.round(v) : v.toFixed(1)} ${units[unit]}`;
}

/** `adtally plan`'s answer: the shape, the sizes, and why, each figure with the result it comes from. */
export function planText(plan: CapacityPlan, figures: MeasuredFigures): string {
  const p = plan.processes;
  const shape =
    plan.shape === 'single'
      ? 'one `adtally serve` (embedded backends)'
      : `${p.collectors} collectors behind a load balancer, Kafka with ${p.partitions} partitions (spread=${p.spread}), ` +
        `${p.workers} workers, ${p.apis} api processes, Redis, PostgreSQL`;
  const lines = [
    `shape: ${shape}`,
    '',
    'sizes:',
    `  dedup state (${plan.shape === 'single' ? 'embedded' : 'Redis'}) ${bytes(plan.sizes.dedupBytes)}`,
    `  serving store            ${bytes(plan.sizes.storeBytes)}`,
    `  raw archive per day      ${bytes(plan.sizes.archiveBytesPerDay)}`,
    `  raw archive in all       ${bytes(plan.sizes.archiveBytes)}`,
    `  event log                ${bytes(plan.sizes.logBytes)} (from the payload size you gave)`,
    '',
    'why:',
  ];
  for (const step of plan.steps) {
    const f = step.figure === undefined ? undefined : figures[step.figure];
    const source =
      f === undefined ? '' : ` [${step.figure} = ${Math.round(f.value * 10) / 10}, bench/results/${f.file}]`;
    lines.push(`  - ${step.decision}: ${step.because}${source}`);
  }
  if (plan.unmeasured.length > 0) {
    lines.push('', 'not measured yet (no bench/results file holds them; the answers that need them say so):');
    for (const name of plan.unmeasured) lines.push(`  - ${name}: ${FIGURE_MEANING[name]}`);
  }
  return lines.join('\n');
}
