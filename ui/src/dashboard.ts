import {
  api,
  INVALID_REASONS,
  type Ad,
  type Bucket,
  type Campaign,
  type SeriesAnswer,
  type TopAnswer,
} from './api.js';
import { TrafficCharts } from './charts.js';
import { download, seriesCsv } from './csv.js';
import { clear, formatCount, formatPercent, h, status } from './dom.js';
import { followStream, type StreamCommit } from './live.js';
import {
  fromLocalInput,
  lastSpan,
  PRESET_MS,
  rangeProblem,
  rangeQuery,
  toLocalInput,
  type Granularity,
  type Preset,
  type Range,
} from './range.js';
import { sqlPanel } from './sql-panel.js';

/** Rows of the ad table drawn at most: a catalog of 10,000 ads must not become 50,000 cells. */
const SHOWN_ADS = 200;
/** What the page shows (subject, range, granularity), kept for this tab so a reload shows it again. */
const VIEW_KEY = 'adtally.view';

/** How often at most the top table is refetched while events stream in (it spans the whole range). */
const TOP_REFRESH_MS = 5_000;

interface Subject {
  kind: 'campaign' | 'ad';
  id: number;
  ads: number[];
}

/** The advertiser dashboard: pick what to chart and over when, watch it live. Returns its teardown. */
export async function showDashboard(root: HTMLElement): Promise<() => void> {
  const [campaigns, ads] = await Promise.all([
    api<Campaign[]>('/api/v1/campaigns'),
    api<Ad[]>('/api/v1/ads'),
  ]);
  if (ads.length === 0) {
    clear(
      root,
      h(
        'section',
        { class: 'panel' },
        h('h1', {}, 'Dashboard'),
        status('No ads yet: an operator creates them (Operator page).'),
      ),
    );
    return () => undefined;
  }
  const campaignName = new Map(campaigns.map((c) => [c.id, c.name]));
  const adName = new Map(ads.map((a) => [a.id, a.name]));

  const subjectSelect = h('select', { id: 'subject' });
  for (const c of campaigns) {
    subjectSelect.append(h('option', { value: `campaign:${c.id}` }, `Campaign ${c.id}: ${c.name}`));
  }
  for (const a of ads) subjectSelect.append(h('option', { value: `ad:${a.id}` }, `Ad ${a.id}: ${a.name}`));
  const presetSelect = h(
    'select',
    { id: 'range' },
    h('option', { value: '1h' }, 'Last hour'),
    h('option', { value: '24h' }, 'Last 24 hours'),
    h('option', { value: '7d' }, 'Last 7 days'),
    h('option', { value: 'custom' }, 'Custom'),
  );
  const granularitySelect = h(
    'select',
    { id: 'granularity' },
    h('option', { value: 'minute' }, 'Minute'),
    h('option', { value: 'hour' }, 'Hour'),
    h('option', { value: 'day' }, 'Day'),
  );
  const now = Date.now();
  const fromInput = h('input', { id: 'from', type: 'datetime-local', value: toLocalInput(now - 86_400_000) });
  const toInput = h('input', { id: 'to', type: 'datetime-local', value: toLocalInput(now) });
  const custom = h(
    'div',
    { class: 'custom', hidden: true },
    h('label', { for: 'from' }, 'From'),
    fromInput,
    h('label', { for: 'to' }, 'To'),
    toInput,
  );
  const csvButton = h('button', { type: 'button', id: 'csv' }, 'Download CSV');
  const liveState = h('span', { id: 'live', class: 'live off', role: 'status' }, 'live: connecting');
  const message = h('div', { id: 'range-message', 'aria-live': 'polite' });

  const totals = h('dl', { class: 'cards', id: 'totals' });
  const current = h('dl', { class: 'cards', id: 'current' });
  const trafficEl = h('div', {
    class: 'chart',
    id: 'traffic-chart',
    role: 'img',
    'aria-label': 'impressions, clicks and CTR over time',
  });
  const invalidEl = h('div', {
    class: 'chart',
    id: 'invalid-chart',
    role: 'img',
    'aria-label': 'invalid events stacked by reason',
  });
  const topBody = h('tbody', { id: 'top-ads' });
  const adRows = ads
    .slice(0, SHOWN_ADS)
    .map((a) =>
      h(
        'tr',
        { 'data-ad': a.id },
        h('td', {}, a.id),
        h('td', {}, a.name),
        h('td', {}, campaignName.get(a.campaignId) ?? a.campaignId),
        h('td', {}, a.active ? 'active' : 'paused'),
        h('td', { class: 'url' }, a.targetUrl),
      ),
    );

  clear(
    root,
    h('h1', { class: 'sr-only' }, 'Dashboard'),
    h(
      'section',
      { class: 'panel controls', 'aria-label': 'What to show' },
      h('label', { for: 'subject' }, 'Show'),
      subjectSelect,
      h('label', { for: 'range' }, 'Range'),
      presetSelect,
      h('label', { for: 'granularity' }, 'Granularity'),
      granularitySelect,
      custom,
      csvButton,
      liveState,
      message,
    ),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'now-title' },
      h('h2', { id: 'now-title' }, 'This minute and the range'),
      current,
      totals,
    ),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'chart-title' },
      h('h2', { id: 'chart-title' }, 'Impressions, clicks and CTR'),
      h(
        'p',
        { class: 'hint' },
        'Shaded buckets are provisional (the watermark, dashed, has not passed them yet); the rest are final.',
      ),
      trafficEl,
      h('h2', {}, 'Invalid traffic by reason'),
      invalidEl,
    ),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'top-title' },
      h('h2', { id: 'top-title' }, 'Top ads'),
      h(
        'div',
        { class: 'scroll' },
        h(
          'table',
          {},
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...['ad', 'clicks', 'impressions', 'CTR', 'invalid share'].map((c) =>
                h('th', { scope: 'col' }, c),
              ),
            ),
          ),
          topBody,
        ),
      ),
    ),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'ads-title' },
      h('h2', { id: 'ads-title' }, 'Ads'),
      h(
        'div',
        { class: 'scroll' },
        h(
          'table',
          { id: 'ad-list' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...['id', 'name', 'campaign', 'state', 'target'].map((c) => h('th', { scope: 'col' }, c)),
            ),
          ),
          h('tbody', {}, ...adRows),
        ),
      ),
      ads.length > SHOWN_ADS
        ? h(
            'p',
            { class: 'hint' },
            `The first ${SHOWN_ADS} of ${formatCount(ads.length)} ads; pick any of them under Show.`,
          )
        : null,
    ),
    sqlPanel(),
  );

  const charts = new TrafficCharts(trafficEl, invalidEl);
  let shown: { subject: Subject; answer: SeriesAnswer } | undefined;
  let lastTop = 0;

  const subject = (): Subject => {
    const [kind, raw] = subjectSelect.value.split(':') as ['campaign' | 'ad', string];
    const id = Number(raw);
    return { kind, id, ads: kind === 'ad' ? [id] : ads.filter((a) => a.campaignId === id).map((a) => a.id) };
  };
  const range = (): Range => {
    const granularity = granularitySelect.value as Granularity;
    const preset = presetSelect.value as Preset;
    if (preset === 'custom')
      return { fromMs: fromLocalInput(fromInput.value), toMs: fromLocalInput(toInput.value), granularity };
    return { ...lastSpan(PRESET_MS[preset], Date.now()), granularity };
  };
  const seriesPath = (s: Subject, query: string): string =>
    `/api/v1/${s.kind === 'ad' ? 'ads' : 'campaigns'}/${s.id}/aggregates?${query}`;

  // One refresh at a time; events arriving meanwhile ask for one more, never a queue of them.
  let running: Promise<void> | undefined;
  let again = false;
  let againTop = false;
  const refresh = (withTop: boolean): void => {
    againTop ||= withTop;
    if (running !== undefined) {
      again = true;
      return;
    }
    const top = againTop;
    again = againTop = false;
    running = load(top)
      .catch((err: unknown) => clear(message, status((err as Error).message, 'error')))
      .finally(() => {
        running = undefined;
        if (again) refresh(againTop);
      });
  };

  async function load(withTop: boolean): Promise<void> {
    const r = range();
    const problem = rangeProblem(r);
    if (problem !== undefined) {
      clear(message, status(problem, 'error'));
      return;
    }
    const s = subject();
    const minute = lastSpan(60_000, Date.now());
    const [answer, now] = await Promise.all([
      api<SeriesAnswer>(seriesPath(s, rangeQuery(r))),
      api<SeriesAnswer>(seriesPath(s, rangeQuery({ ...minute, granularity: 'minute' }))),
    ]);
    clear(message);
    shown = { subject: s, answer };
    const watermarkMs = answer.watermark === null ? undefined : Date.parse(answer.watermark);
    charts.draw({ series: answer.series, watermarkMs });
    const bucket = now.series[0];
    clear(
      current,
      card('clicks this minute', formatCount(bucket?.clicks ?? 0), 'current-clicks'),
      card('impressions this minute', formatCount(bucket?.impressions ?? 0), 'current-impressions'),
      card(
        'watermark',
        answer.watermark === null ? 'none yet' : new Date(answer.watermark).toLocaleTimeString(),
        'watermark',
      ),
    );
    clear(
      totals,
      card('clicks in range', formatCount(answer.totals.clicks), 'total-clicks'),
      card('impressions in range', formatCount(answer.totals.impressions), 'total-impressions'),
      card('CTR', formatPercent(answer.totals.ctr), 'total-ctr'),
      card('buckets', `${answer.series.length} x ${answer.granularity}`, 'bucket-count'),
    );
    if (withTop || Date.now() - lastTop > TOP_REFRESH_MS) {
      lastTop = Date.now();
      await loadTop(r);
    }
  }

  async function loadTop(r: Range): Promise<void> {
    const query = rangeQuery(r);
    const top = await api<TopAnswer>(`/api/v1/top?${query}&by=clicks&limit=10`);
    // The invalid share needs each ad's invalid counts: its series over the same range.
    const invalid = await Promise.all(
      top.ads.map((row) => api<SeriesAnswer>(seriesPath({ kind: 'ad', id: row.ad, ads: [row.ad] }, query))),
    );
    clear(
      topBody,
      ...top.ads.map((row, i) => {
        const bad = sumInvalid(invalid[i]!.series);
        const share = row.clicks + bad === 0 ? 0 : bad / (row.clicks + bad);
        return h(
          'tr',
          {},
          h('td', {}, `${row.ad} ${adName.get(row.ad) ?? ''}`),
          h('td', {}, formatCount(row.clicks)),
          h('td', {}, formatCount(row.impressions)),
          h('td', {}, formatPercent(row.ctr)),
          h('td', {}, formatPercent(share)),
        );
      }),
    );
    if (top.ads.length === 0) topBody.append(h('tr', {}, h('td', { colspan: 5 }, 'no clicks in this range')));
  }

  let commitsSeen = 0;
  const onCommit = (commit: StreamCommit): void => {
    // Counted on the page so a test can tell a pushed update from a timer's.
    liveState.dataset.commits = String(++commitsSeen);
    const s = subject();
    if (commit.changes.some((c) => s.ads.includes(c.ad))) refresh(false);
  };
  const stream = followStream({
    onCommit,
    onResync: () => refresh(false),
    onState: (state, detail) => {
      liveState.className = `live ${state}`;
      liveState.textContent = `live: ${state === 'live' ? 'on' : state}${detail === undefined ? '' : ` (${detail})`}`;
    },
  });
  const onChange = (): void => {
    custom.hidden = presetSelect.value !== 'custom';
    const view = {
      subject: subjectSelect.value,
      range: presetSelect.value,
      granularity: granularitySelect.value,
    };
    sessionStorage.setItem(VIEW_KEY, JSON.stringify(view));
    refresh(true);
  };
  restoreView([subjectSelect, presetSelect, granularitySelect]);
  custom.hidden = presetSelect.value !== 'custom';
  for (const el of [subjectSelect, presetSelect, granularitySelect, fromInput, toInput])
    el.addEventListener('change', onChange);
  csvButton.addEventListener('click', () => {
    if (shown === undefined) return;
    const name = `${shown.subject.kind}-${shown.subject.id}`;
    download(
      `adtally-${name}-${shown.answer.granularity}.csv`,
      seriesCsv(`${shown.subject.kind} ${shown.subject.id}`, shown.answer.series),
    );
  });
  // The window slides: the minute rolls over without any event, so the range is redrawn then.
  const tick = setInterval(() => {
    if (presetSelect.value !== 'custom') refresh(false);
  }, 60_000);
  refresh(true);
  return () => {
    clearInterval(tick);
    stream.stop();
    charts.destroy();
  };
}

/** Puts back the view saved for this tab; a value the selects no longer offer is skipped. */
function restoreView([subject, range, granularity]: HTMLSelectElement[]): void {
  let saved: Record<string, unknown>;
  try {
    saved = JSON.parse(sessionStorage.getItem(VIEW_KEY) ?? '{}') as Record<string, unknown>;
  } catch {
    return;
  }
  const put = (select: HTMLSelectElement | undefined, value: unknown): void => {
    if (select === undefined || typeof value !== 'string') return;
    if ([...select.options].some((o) => o.value === value)) select.value = value;
  };
  put(subject, saved.subject);
  // A saved custom range has no dates kept: fall back to the default.
  if (saved.range !== 'custom') put(range, saved.range);
  put(granularity, saved.granularity);
}

function sumInvalid(series: readonly Bucket[]): number {
  let n = 0;
  for (const b of series) for (const r of INVALID_REASONS) n += b.invalid[r];
  return n;
}

function card(label: string, value: string, id: string): DocumentFragment {
  const f = document.createDocumentFragment();
  f.append(h('div', { class: 'card' }, h('dt', {}, label), h('dd', { id }, value)));
  return f;
}
