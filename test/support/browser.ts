import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { signToken } from '../../src/domain/token.js';
import { TEST_SECRET } from './adtally-process.js';

/** The repo's root, from dist/test/support. */
export const REPO_ROOT = resolve(import.meta.dirname, '../../..');

/**
 * Debian's Chromium, installed by the repo's own script when missing
 * (scripts/services/ensure-chromium.sh): playwright-core downloads no browser.
 */
export async function launchChromium(): Promise<Browser> {
  const script = resolve(REPO_ROOT, 'scripts/services/ensure-chromium.sh');
  const executablePath = execFileSync('bash', [script], { encoding: 'utf8' }).trim();
  return chromium.launch({
    executablePath,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

/** Signs in on the page with `token` (an advertiser's key or the admin token). */
export async function signIn(page: Page, base: string, token: string, hash = '#/'): Promise<void> {
  await page.goto(`${base}/${hash}`);
  await page.fill('#token', token);
  await page.click('form.signin button[type=submit]');
}

/** Errors the page logged or threw (a CSP refusal shows up here), to assert there are none. */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  return errors;
}

/**
 * NDJSON for POST /events spreading impressions and clicks of `ads` over the
 * last `minutes` minutes (with `at`), a few duplicates and bad signatures
 * among them: a chart with something on it. One body, in event-time order:
 * events of a minute the watermark has passed would be late (agg_late), not
 * in the served counts.
 */
export function pastTraffic(
  ads: readonly { ad: number; seed: string; scale: number }[],
  minutes: number,
): string {
  const now = Date.now();
  const ts = Math.floor(now / 1000) - minutes * 60 + 60;
  const lines: string[] = [];
  for (let m = 1; m <= minutes; m++) {
    const at = now - (minutes - m) * 60_000 - 30_000;
    for (const { ad, seed, scale } of ads) {
      const shows = Math.round(scale * (20 + 15 * Math.sin(m / 6) + (m % 7)));
      for (let i = 0; i < shows; i++) {
        const t = signToken(TEST_SECRET, ad, `${seed}_${m}_${i}`.padEnd(8, 'x'), ts);
        const line = { ad, imp: t.imp, ts, sig: t.sig, at };
        lines.push(JSON.stringify({ type: 'impression', ...line }));
        if (i % 6 === 0) lines.push(JSON.stringify({ type: 'click', ...line }));
        if (i % 17 === 0) lines.push(JSON.stringify({ type: 'click', ...line }));
        if (i % 23 === 0)
          lines.push(JSON.stringify({ type: 'click', ...line, sig: `${t.sig.slice(0, -2)}AA` }));
      }
    }
  }
  return `${lines.join('\n')}\n`;
}
