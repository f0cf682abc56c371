import type { TokenVerdict } from './token.js';
import type { UserAgentClass } from './user-agent.js';

/**
 * What the collector decided about one event. `duplicate` is decided later,
 * by the aggregation worker's dedup; `unknown_ad` events are kept for audit
 * and never counted per ad.
 */
export type Outcome = 'ok' | 'bad_signature' | 'expired' | 'bot' | 'prefetch' | 'unknown_ad';

export const OUTCOMES: readonly Outcome[] = [
  'ok',
  'bad_signature',
  'expired',
  'bot',
  'prefetch',
  'unknown_ad',
];

/** Request headers that say a fetch is speculative (prefetch or prerender). */
export interface PrefetchSignals {
  readonly method: string;
  readonly secPurpose?: string | undefined;
  readonly purpose?: string | undefined;
  readonly xMoz?: string | undefined;
}

const PREFETCH_WORDS = /prefetch|prerender|preview/i;

/**
 * Why a request was made, as far as its headers tell: `speculative` when a
 * Sec-Purpose / Purpose / X-Moz header names prefetch or prerender (a browser
 * fetching ahead of a person), `head` for a HEAD request, else `navigation`.
 * Both non-navigations are recorded as `prefetch`; they are answered apart
 * (web/tracking-routes.ts): a speculative click must never get its redirect.
 */
export type RequestPurpose = 'navigation' | 'head' | 'speculative';

export function requestPurpose(signals: PrefetchSignals): RequestPurpose {
  for (const value of [signals.secPurpose, signals.purpose, signals.xMoz]) {
    if (value !== undefined && PREFETCH_WORDS.test(value)) return 'speculative';
  }
  return signals.method === 'HEAD' ? 'head' : 'navigation';
}

/** A HEAD request, or a Sec-Purpose / Purpose / X-Moz header naming prefetch or prerender. */
export function isPrefetch(signals: PrefetchSignals): boolean {
  return requestPurpose(signals) !== 'navigation';
}

/**
 * One outcome per event, in a fixed precedence: a token that does not verify
 * says nothing trustworthy, so `bad_signature` wins, then `expired`; of a valid
 * token, a bot user agent wins over a prefetch (the request was not a person's
 * either way, and the bot is the more specific cause).
 */
export function classifyOutcome(input: {
  readonly knownAd: boolean;
  readonly token: TokenVerdict;
  readonly userAgent: UserAgentClass;
  readonly prefetch: boolean;
}): Outcome {
  if (!input.knownAd) return 'unknown_ad';
  if (input.token !== 'valid') return input.token;
  if (input.userAgent === 'bot' || input.userAgent === 'empty') return 'bot';
  if (input.prefetch) return 'prefetch';
  return 'ok';
}
