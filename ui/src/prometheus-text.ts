/** One sample of the Prometheus text format: name, labels, value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses /metrics (text format 0.0.4): comments skipped, labels unescaped, +Inf/NaN kept as numbers. */
export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = LINE.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (match[2] ?? '').matchAll(LABEL)) {
      labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    const raw = match[3]!;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    samples.push({ name: match[1]!, labels, value });
  }
  return samples;
}

export function sum(
  samples: readonly Sample[],
  name: string,
  where: Record<string, string> = {},
): number | undefined {
  let total: number | undefined;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(where).some(([k, v]) => s.labels[k] !== v)) continue;
    total = (total ?? 0) + s.value;
  }
  return total;
}

/**
 * The q-quantile of a histogram over the interval between two scrapes (the
 * difference of its cumulative buckets), by linear interpolation inside the
 * bucket, as PromQL's histogram_quantile does. Undefined when nothing was observed.
 */
export function intervalQuantile(
  before: readonly Sample[],
  after: readonly Sample[],
  name: string,
  q: number,
): number | undefined {
  const buckets = (samples: readonly Sample[]) => {
    const byLe = new Map<number, number>();
    for (const s of samples) {
      if (s.name !== `${name}_bucket`) continue;
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      byLe.set(le, (byLe.get(le) ?? 0) + s.value);
    }
    return byLe;
  };
  const a = buckets(before);
  const b = buckets(after);
  const les = [...b.keys()].sort((x, y) => x - y);
  const counts = les.map((le) => (b.get(le) ?? 0) - (a.get(le) ?? 0));
  const total = counts.at(-1) ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (let i = 0; i < les.length; i++) {
    const le = les[i]!;
    const count = counts[i]!;
    if (count >= rank) {
      if (le === Infinity) return lower;
      return lower + ((le - lower) * (rank - below)) / Math.max(count - below, 1e-12);
    }
    lower = le;
    below = count;
  }
  return lower;
}
