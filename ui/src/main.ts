import './style.css';
import { api, ApiError, forgetToken, storedToken, storeToken, type Principal } from './api.js';
import { showDashboard } from './dashboard.js';
import { clear, h, status } from './dom.js';
import { showLab } from './lab.js';
import { showOperator } from './operator.js';

/** The pages, routed by the URL's hash so the server serves one index.html; the token never goes in it. */
const PAGES = [
  { hash: '#/', label: 'Dashboard', needs: 'any' },
  { hash: '#/operator', label: 'Operator', needs: 'admin' },
  { hash: '#/lab', label: 'Lab', needs: 'none' },
] as const;

const main = document.getElementById('main')!;
const nav = document.getElementById('nav')!;
const who = document.getElementById('who')!;
let teardown: () => void = () => undefined;
let principal: Principal | undefined;

async function whoAmI(): Promise<Principal | undefined> {
  if (storedToken() === null) return undefined;
  try {
    return await api<Principal>('/api/v1/me');
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) forgetToken();
    return undefined;
  }
}

function signIn(reason?: string): HTMLElement {
  const input = h('input', {
    id: 'token',
    type: 'password',
    autocomplete: 'off',
    required: true,
    'aria-describedby': 'token-hint',
  });
  const out = h('div', { 'aria-live': 'polite' }, reason === undefined ? null : status(reason, 'error'));
  const form = h(
    'form',
    { class: 'panel signin' },
    h('h1', {}, 'Sign in'),
    h('label', { for: 'token' }, 'API key or admin token'),
    input,
    h(
      'p',
      { id: 'token-hint', class: 'hint' },
      'Kept in this tab only (sessionStorage) and sent as Authorization: Bearer.',
    ),
    h('button', { type: 'submit' }, 'Sign in'),
    out,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    storeToken(input.value.trim());
    void whoAmI().then((p) => {
      if (p === undefined) clear(out, status('That token is not valid.', 'error'));
      else {
        principal = p;
        void route();
      }
    });
  });
  queueMicrotask(() => input.focus());
  return form;
}

function renderChrome(): void {
  clear(
    nav,
    ...PAGES.filter((p) => p.needs !== 'admin' || principal?.kind === 'admin').map((p) =>
      h('a', { href: p.hash, ...(current().hash === p.hash ? { 'aria-current': 'page' } : {}) }, p.label),
    ),
  );
  if (principal === undefined) clear(who);
  else {
    const label = principal.kind === 'admin' ? 'admin' : `advertiser ${principal.advertiserId}`;
    clear(
      who,
      label,
      ' ',
      h(
        'button',
        {
          type: 'button',
          class: 'link',
          onclick: () => {
            forgetToken();
            principal = undefined;
            void route();
          },
        },
        'Sign out',
      ),
    );
  }
}

function current() {
  return PAGES.find((p) => p.hash === (location.hash || '#/')) ?? PAGES[0];
}

async function route(): Promise<void> {
  teardown();
  teardown = () => undefined;
  const page = current();
  renderChrome();
  if (page.needs !== 'none' && principal === undefined) {
    clear(main, signIn());
    return;
  }
  if (page.needs === 'admin' && principal?.kind !== 'admin') {
    clear(main, status('The operator view needs the admin token.', 'error'));
    return;
  }
  clear(main, status('loading...'));
  try {
    if (page.hash === '#/') teardown = await showDashboard(main);
    else if (page.hash === '#/operator') teardown = await showOperator(main);
    else teardown = await showLab(main);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      forgetToken();
      principal = undefined;
      clear(main, signIn(err.message));
    } else clear(main, status((err as Error).message, 'error'));
  }
}

window.addEventListener('hashchange', () => void route());
void whoAmI().then((p) => {
  principal = p;
  return route();
});
