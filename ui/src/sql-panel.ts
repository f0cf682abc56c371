import { api, ApiError } from './api.js';
import { clear, h, status } from './dom.js';

interface SqlAnswer {
  columns: string[];
  rows: unknown[][];
}

/** Rows shown at most; the rest is counted, not drawn (the server bounds what it sends). */
const SHOWN_ROWS = 500;

/** The SQL console of the batch layer (POST /api/v1/sql): one read-only statement, its rows or its error. */
export function sqlPanel(): HTMLElement {
  const input = h('textarea', {
    id: 'sql-input',
    rows: 4,
    spellcheck: 'false',
    'aria-label': 'SQL statement',
  });
  input.value = 'SELECT ad, sum(clicks) AS clicks FROM minutes GROUP BY ad ORDER BY clicks DESC LIMIT 10';
  const out = h('div', { id: 'sql-result', 'aria-live': 'polite' });
  const run = async (): Promise<void> => {
    clear(out, status('running...'));
    try {
      const answer = await api<SqlAnswer>('/api/v1/sql', { method: 'POST', body: { sql: input.value } });
      clear(out, resultTable(answer));
    } catch (err) {
      const message =
        err instanceof ApiError && err.status === 404
          ? `the SQL console is not available on this server (${err.message})`
          : (err as Error).message;
      clear(out, status(message, 'error'));
    }
  };
  const button = h('button', { type: 'button', onclick: () => void run() }, 'Run');
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void run();
  });
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'sql-title' },
    h('h2', { id: 'sql-title' }, 'SQL console'),
    h('p', { class: 'hint' }, 'One SELECT over the views minutes and events; Ctrl+Enter runs it.'),
    input,
    h('div', { class: 'row' }, button),
    out,
  );
}

function resultTable(answer: SqlAnswer): HTMLElement {
  const shown = answer.rows.slice(0, SHOWN_ROWS);
  return h(
    'div',
    { class: 'scroll' },
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, ...answer.columns.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, ...shown.map((row) => h('tr', {}, ...row.map((v) => h('td', {}, cell(v)))))),
    ),
    answer.rows.length > SHOWN_ROWS
      ? h('p', { class: 'hint' }, `${answer.rows.length - SHOWN_ROWS} more rows not shown`)
      : null,
  );
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return v.toString();
  return JSON.stringify(v);
}
