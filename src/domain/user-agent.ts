import { isbot } from 'isbot';

/** What kind of client sent a tracking request. */
export type UserAgentClass = 'browser' | 'bot' | 'empty' | 'server';

export const USER_AGENT_CLASSES: readonly UserAgentClass[] = ['browser', 'bot', 'empty', 'server'];

const cache = new Map<string, UserAgentClass>();
/** User agents repeat heavily; a bounded cache keeps isbot's regex off the hot path. */
const CACHE_LIMIT = 10_000;

/**
 * Classifies a browser-facing request's user agent with the maintained
 * `isbot` list (crawlers, link-preview fetchers, HTTP libraries).
 * A missing user agent is its own class: no real browser omits it, so it is
 * treated as a bot by `classifyOutcome`.
 */
export function classifyUserAgent(userAgent: string | undefined): UserAgentClass {
  if (userAgent === undefined || userAgent.trim() === '') return 'empty';
  const known = cache.get(userAgent);
  if (known !== undefined) return known;
  const cls: UserAgentClass = isbot(userAgent) ? 'bot' : 'browser';
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(userAgent, cls);
  return cls;
}
