import { api } from './api.js';
import { clear, formatCount, h, status } from './dom.js';

interface Figure {
  value: number;
  file: string;
  commit: string;
  date: string;
}
interface PlanAnswer {
  plan: {
    shape: 'single' | 'cluster';
    processes: {
      serve: number;
      collectors: number;
      workers: number;
      apis: number;
      partitions: number;
      spread: number;
    };
    sizes: {
      dedupBytes?: number;
      storeBytes?: number;
      archiveBytesPerDay?: number;
      archiveBytes?: number;
      logBytes: number;
    };
    steps: { decision: string; because: string; figure?: string }[];
    unmeasured: string[];
  };
  figures: Record<string, Figure>;
  meanings: Record<string, string>;
}

/** The inputs, named as `adtally plan`'s flags (the route passes them to the same parser). */
const INPUTS: { flag: string; label: string; value: string; hint: string }[] = [
  { flag: 'events-per-second', label: 'Events/s, average', value: '2000', hint: 'impressions and clicks' },
  { flag: 'peak', label: 'Events/s, peak', value: '6000', hint: 'the busiest minute' },
  { flag: 'payload-bytes', label: 'Bytes per event', value: '120', hint: 'in the event log' },
  { flag: 'ads', label: 'Active ads', value: '10000', hint: '' },
  { flag: 'hot-share', label: 'Hot-ad share', value: '0.01', hint: 'share of events on the hottest ad, 0-1' },
  { flag: 'queries-per-second', label: 'Queries/s', value: '10', hint: 'advertiser queries' },
  { flag: 'freshness-ms', label: 'Freshness target (ms)', value: '1000', hint: 'click to queryable, p99' },
  { flag: 'retention-raw', label: 'Raw retention', value: '90d', hint: 'archive' },
  { flag: 'retention-aggregates', label: 'Aggregate retention', value: '400d', hint: '' },
  { flag: 'availability', label: 'Availability target', value: '0.99', hint: 'e.g. 0.999' },
];

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

/** The lab: a load in, the deployment it needs out, each step with the measured figure that forces it. */
export function showLab(root: HTMLElement): Promise<() => void> {
  const fields = INPUTS.map((input) =>
    h(
      'label',
      {},
      input.label,
      h('input', {
        name: input.flag,
        id: `lab-${input.flag}`,
        value: input.value,
        inputmode: 'decimal',
        required: true,
      }),
      input.hint === '' ? null : h('span', { class: 'hint' }, input.hint),
    ),
  );
  const form = h('form', { class: 'grid-form', id: 'lab-form', 'aria-label': 'Load' }, ...fields);
  const out = h('div', { id: 'lab-result', 'aria-live': 'polite' });
  clear(
    root,
    h(
      'section',
      { class: 'panel' },
      h('h1', {}, 'Lab: what does this load need?'),
      h(
        'p',
        { class: 'hint' },
        'The same model as adtally plan, from the figures adtally bench measured (bench/results); nothing typed in by hand.',
      ),
      form,
    ),
    out,
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  let asked = 0;
  const ask = async (): Promise<void> => {
    const mine = ++asked;
    const query = new URLSearchParams();
    for (const [k, v] of new FormData(form))
      if (typeof v === 'string' && v.trim() !== '') query.set(k, v.trim());
    try {
      const answer = await api<PlanAnswer>(`/api/v1/plan?${query.toString()}`);
      if (mine === asked) clear(out, ...render(answer));
    } catch (err) {
      if (mine === asked)
        clear(out, h('section', { class: 'panel' }, status((err as Error).message, 'error')));
    }
  };
  form.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => void ask(), 250);
  });
  form.addEventListener('submit', (e) => e.preventDefault());
  void ask();
  return Promise.resolve(() => clearTimeout(timer));
}

function render(answer: PlanAnswer): HTMLElement[] {
  const { plan, figures, meanings } = answer;
  const p = plan.processes;
  const shape =
    plan.shape === 'single'
      ? 'One adtally serve (embedded log, dedup and store)'
      : `${p.collectors} collectors behind a load balancer, Kafka with ${p.partitions} partitions (spread ${p.spread}), ${p.workers} workers, ${p.apis} api processes, Redis and PostgreSQL`;
  const figureText = (name: string | undefined): Node | null => {
    if (name === undefined) return h('span', { class: 'figure' }, 'from your inputs');
    const f = figures[name];
    if (f === undefined) return h('span', { class: 'figure unmeasured' }, `${name}: not measured yet`);
    return h(
      'span',
      { class: 'figure' },
      `${name} = ${formatCount(Math.round(f.value * 10) / 10)} (${meanings[name] ?? ''}; bench/results/${f.file}, ${f.commit}, ${f.date.slice(0, 10)})`,
    );
  };
  const size = (label: string, n: number | undefined, id: string) =>
    h(
      'div',
      { class: 'card' },
      h('dt', {}, label),
      h('dd', { id, class: n === undefined ? 'unmeasured' : '' }, bytes(n)),
    );
  return [
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'shape-title' },
      h('h2', { id: 'shape-title' }, 'Recommended shape'),
      h('p', { id: 'lab-shape', class: 'shape' }, shape),
      h(
        'dl',
        { class: 'cards' },
        size(
          plan.shape === 'single' ? 'dedup state (embedded)' : 'Redis for dedup',
          plan.sizes.dedupBytes,
          'lab-dedup',
        ),
        size('serving store', plan.sizes.storeBytes, 'lab-store'),
        size('raw archive per day', plan.sizes.archiveBytesPerDay, 'lab-archive-day'),
        size('raw archive in all', plan.sizes.archiveBytes, 'lab-archive'),
        size('event log', plan.sizes.logBytes, 'lab-log'),
      ),
    ),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'why-title' },
      h('h2', { id: 'why-title' }, 'Why: each step and what forces it'),
      h(
        'ol',
        { class: 'steps', id: 'lab-steps' },
        ...plan.steps.map((s) =>
          h('li', {}, h('strong', {}, s.decision), `: ${s.because}. `, figureText(s.figure)),
        ),
      ),
    ),
    plan.unmeasured.length === 0
      ? h('section', { class: 'panel' }, h('p', {}, 'Every figure this plan needs is measured.'))
      : h(
          'section',
          { class: 'panel', 'aria-labelledby': 'unmeasured-title' },
          h('h2', { id: 'unmeasured-title' }, 'Not measured yet'),
          h(
            'p',
            { class: 'hint' },
            'No bench/results file holds these; the answers that need them say so above.',
          ),
          h(
            'ul',
            { id: 'lab-unmeasured' },
            ...plan.unmeasured.map((n) => h('li', {}, h('code', {}, n), `: ${meanings[n] ?? ''}`)),
          ),
        ),
  ];
}
