import { api, type Ad, type Advertiser, type Campaign } from './api.js';
import { clear, formatCount, h, status } from './dom.js';
import { intervalQuantile, parsePrometheusText, sum, type Sample } from './prometheus-text.js';

/** /metrics is read this often; rates and latencies are over the last interval. */
const SCRAPE_MS = 2_000;

/** The operator's view (admin token): the catalog, and the pipeline's health from /metrics. */
export async function showOperator(root: HTMLElement): Promise<() => void> {
  const health = h('section', { class: 'panel', 'aria-labelledby': 'health-title' });
  const catalogEl = h('div');
  const notice = h('div', { 'aria-live': 'polite', id: 'operator-notice' });
  clear(root, h('h1', {}, 'Operator'), notice, health, catalogEl);

  const say = (text: string, kind: 'info' | 'error' = 'info'): void => clear(notice, status(text, kind));
  const act = (work: () => Promise<string>): void => {
    work().then(
      (done) => {
        say(done);
        void drawCatalog();
      },
      (err: unknown) => say((err as Error).message, 'error'),
    );
  };

  async function drawCatalog(): Promise<void> {
    const [advertisers, campaigns, ads] = await Promise.all([
      api<Advertiser[]>('/api/v1/advertisers'),
      api<Campaign[]>('/api/v1/campaigns'),
      api<Ad[]>('/api/v1/ads'),
    ]);
    const campaignName = new Map(campaigns.map((c) => [c.id, c.name]));
    clear(
      catalogEl,
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'adv-title' },
        h('h2', { id: 'adv-title' }, 'Advertisers'),
        table(
          ['id', 'name', 'key'],
          advertisers.map((a) => [
            a.id,
            a.name,
            h(
              'button',
              {
                type: 'button',
                class: 'secondary',
                'data-rotate': a.id,
                onclick: () =>
                  act(async () => {
                    const r = await api<Advertiser & { apiKey: string }>(`/api/v1/advertisers/${a.id}/key`, {
                      method: 'POST',
                    });
                    return `New API key of ${r.name} (shown once; the old key no longer works): ${r.apiKey}`;
                  }),
              },
              'Rotate key',
            ),
          ]),
        ),
        form('new-advertiser', 'New advertiser', [field('Name', 'name')], (values) =>
          act(async () => {
            const r = await api<Advertiser & { apiKey: string }>('/api/v1/advertisers', {
              method: 'POST',
              body: { name: values.name },
            });
            return `Advertiser ${r.id} created; its API key (shown once): ${r.apiKey}`;
          }),
        ),
      ),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'camp-title' },
        h('h2', { id: 'camp-title' }, 'Campaigns'),
        table(
          ['id', 'name', 'advertiser'],
          campaigns.map((c) => [c.id, c.name, c.advertiserId]),
        ),
        form(
          'new-campaign',
          'New campaign',
          [
            choice(
              'Advertiser',
              'advertiserId',
              advertisers.map((a) => [a.id, a.name]),
            ),
            field('Name', 'name'),
          ],
          (values) =>
            act(async () => {
              const c = await api<Campaign>('/api/v1/campaigns', {
                method: 'POST',
                body: { advertiserId: Number(values.advertiserId), name: values.name },
              });
              return `Campaign ${c.id} created`;
            }),
        ),
      ),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'ads-op-title' },
        h('h2', { id: 'ads-op-title' }, 'Ads'),
        table(
          ['id', 'name', 'campaign', 'target', 'state', ''],
          ads.map((ad) => [
            ad.id,
            ad.name,
            campaignName.get(ad.campaignId) ?? ad.campaignId,
            ad.targetUrl,
            ad.active ? 'active' : 'paused',
            h(
              'button',
              {
                type: 'button',
                class: 'secondary',
                'data-toggle': ad.id,
                onclick: () =>
                  act(async () => {
                    const r = await api<Ad>(`/api/v1/ads/${ad.id}`, {
                      method: 'PATCH',
                      body: { active: !ad.active },
                    });
                    return `Ad ${r.id} is ${r.active ? 'active' : 'paused'}`;
                  }),
              },
              ad.active ? 'Pause' : 'Resume',
            ),
          ]),
          'operator-ads',
        ),
        form(
          'new-ad',
          'New ad',
          [
            choice(
              'Campaign',
              'campaignId',
              campaigns.map((c) => [c.id, c.name]),
            ),
            field('Name', 'name'),
            field('Target URL', 'targetUrl', 'url'),
          ],
          (values) =>
            act(async () => {
              const ad = await api<Ad>('/api/v1/ads', {
                method: 'POST',
                body: {
                  campaignId: Number(values.campaignId),
                  name: values.name,
                  targetUrl: values.targetUrl,
                },
              });
              return `Ad ${ad.id} created`;
            }),
        ),
      ),
    );
  }

  let previous: { at: number; samples: Sample[] } | undefined;
  async function scrape(): Promise<void> {
    const res = await fetch('/metrics');
    const samples = parsePrometheusText(await res.text());
    const now = performance.now();
    drawHealth(
      health,
      samples,
      previous === undefined ? undefined : { ...previous, seconds: (now - previous.at) / 1000 },
    );
    previous = { at: now, samples };
  }
  const scrapeSafely = (): void => {
    scrape().catch((err: unknown) => clear(health, status(`/metrics: ${(err as Error).message}`, 'error')));
  };

  await drawCatalog();
  scrapeSafely();
  const timer = setInterval(scrapeSafely, SCRAPE_MS);
  return () => clearInterval(timer);
}

function drawHealth(
  el: HTMLElement,
  now: Sample[],
  before: { samples: Sample[]; seconds: number } | undefined,
): void {
  const ms = (seconds: number | undefined): string =>
    seconds === undefined ? 'no data' : `${(seconds * 1000).toFixed(2)} ms`;
  const p99 = (name: string): string =>
    before === undefined ? 'measuring' : ms(intervalQuantile(before.samples, now, name, 0.99));
  const gauge = (name: string, format: (v: number) => string = formatCount): string => {
    const v = sum(now, name);
    return v === undefined ? 'not exposed' : format(v);
  };
  const outcomes = now.filter((s) => s.name === 'adtally_ingest_events_total');
  const rate = (s: Sample): string => {
    if (before === undefined) return 'measuring';
    const old = sum(before.samples, s.name, s.labels) ?? 0;
    return `${((s.value - old) / before.seconds).toFixed(1)}/s`;
  };
  const ready = now.filter((s) => s.name === 'adtally_ready');
  const reconcile = now.filter((s) => s.name.startsWith('adtally_reconcil'));
  clear(
    el,
    h('h2', { id: 'health-title' }, 'Pipeline health'),
    h(
      'p',
      { class: 'hint' },
      `From /metrics every ${SCRAPE_MS / 1000} s; rates and p99 over the last interval.`,
    ),
    h(
      'dl',
      { class: 'cards', id: 'health' },
      card(
        'ready',
        ready.length === 0
          ? 'not exposed'
          : ready.every((s) => s.value === 1)
            ? 'yes'
            : `no: ${ready
                .filter((s) => s.value !== 1)
                .map((s) => s.labels.check)
                .join(', ')}`,
        'health-ready',
      ),
      card('log append p99', p99('adtally_log_append_duration_seconds'), 'health-append'),
      card('log fsync p99', p99('adtally_log_fsync_duration_seconds'), 'health-fsync'),
      card('commit p99', p99('adtally_store_flush_duration_seconds'), 'health-commit'),
      card(
        'consumer lag',
        gauge('adtally_consumer_lag_bytes', (v) => `${formatCount(v)} B`),
        'health-lag',
      ),
      card(
        'watermark delay',
        gauge('adtally_watermark_delay_seconds', (v) => `${v.toFixed(1)} s`),
        'health-watermark',
      ),
      card('dedup entries', gauge('adtally_dedup_entries'), 'health-dedup'),
      card('live streams', gauge('adtally_stream_clients'), 'health-streams'),
    ),
    h('h3', {}, 'Ingest by outcome'),
    table(
      ['type', 'outcome', 'total', 'rate'],
      outcomes.map((s) => [s.labels.type ?? '', s.labels.outcome ?? '', formatCount(s.value), rate(s)]),
      'health-ingest',
    ),
    h('h3', {}, 'Reconciliation'),
    reconcile.length === 0
      ? h(
          'p',
          { class: 'hint', id: 'health-reconcile' },
          'No reconciliation figures on /metrics yet (reports come from adtally reconcile).',
        )
      : table(
          ['metric', 'value'],
          reconcile.map((s) => [s.name + labelText(s.labels), String(s.value)]),
          'health-reconcile',
        ),
  );
}

const labelText = (labels: Record<string, string>): string => {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
};

function card(label: string, value: string, id: string): HTMLElement {
  return h('div', { class: 'card' }, h('dt', {}, label), h('dd', { id }, value));
}

function table(columns: string[], rows: (string | number | Node)[][], id?: string): HTMLElement {
  return h(
    'div',
    { class: 'scroll' },
    h(
      'table',
      id === undefined ? {} : { id },
      h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((v) => h('td', {}, v))))),
    ),
  );
}

type FieldEl = HTMLLabelElement;
function field(label: string, name: string, type = 'text'): FieldEl {
  return h('label', {}, label, h('input', { name, type, required: true }));
}
function choice(label: string, name: string, options: [number, string][]): FieldEl {
  return h(
    'label',
    {},
    label,
    h(
      'select',
      { name, required: true },
      ...options.map(([v, t]) => h('option', { value: v }, `${v}: ${t}`)),
    ),
  );
}

function form(
  id: string,
  title: string,
  fields: FieldEl[],
  submit: (values: Record<string, string>) => void,
): HTMLElement {
  const el = h(
    'form',
    { id, class: 'grid-form', 'aria-label': title },
    ...fields,
    h('button', { type: 'submit' }, title),
  );
  el.addEventListener('submit', (e) => {
    e.preventDefault();
    const values: Record<string, string> = {};
    for (const [k, v] of new FormData(el)) values[k] = typeof v === 'string' ? v.trim() : '';
    submit(values);
  });
  return el;
}
