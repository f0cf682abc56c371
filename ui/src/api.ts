/**
 * The page's HTTP client. The token lives in sessionStorage (gone with the
 * tab) and travels only in the Authorization header, never in a URL.
 */
const TOKEN_KEY = 'adtally.token';

export type Principal = { kind: 'admin' } | { kind: 'advertiser'; advertiserId: number };

export interface Advertiser {
  id: number;
  name: string;
}
export interface Campaign {
  id: number;
  advertiserId: number;
  name: string;
}
export interface Ad {
  id: number;
  campaignId: number;
  name: string;
  targetUrl: string;
  active: boolean;
}
export interface InvalidCounts {
  duplicate: number;
  bot: number;
  prefetch: number;
  bad_signature: number;
  expired: number;
}
export interface Bucket {
  ts: string;
  impressions: number;
  clicks: number;
  invalid: InvalidCounts;
  ctr: number;
  final: boolean;
}
export interface SeriesAnswer {
  granularity: string;
  from: string;
  to: string;
  watermark: string | null;
  series: Bucket[];
  totals: { impressions: number; clicks: number; ctr: number };
}
export interface TopAnswer {
  ads: { ad: number; impressions: number; clicks: number; ctr: number }[];
}

export const INVALID_REASONS: readonly (keyof InvalidCounts)[] = [
  'duplicate',
  'bot',
  'prefetch',
  'bad_signature',
  'expired',
];

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}
export function storeToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}
export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

export function authHeaders(): Record<string, string> {
  const token = storedToken();
  return token === null ? {} : { authorization: `Bearer ${token}` };
}

/** Calls the API; a non-2xx answer throws ApiError with the server's message. */
export async function api<T>(
  path: string,
  init: { method?: string; body?: unknown; signal?: AbortSignal } = {},
): Promise<T> {
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    headers: {
      ...authHeaders(),
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: init.body === undefined ? null : JSON.stringify(init.body),
    ...(init.signal === undefined ? {} : { signal: init.signal }),
  });
  if (!res.ok) throw new ApiError(res.status, await errorMessage(res));
  return (await res.json()) as T;
}

async function errorMessage(res: Response): Promise<string> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { error?: { message?: string } };
    if (typeof body.error?.message === 'string') return body.error.message;
  } catch {
    // not JSON: fall through to the status
  }
  return `${res.status} ${res.statusText}`.trim();
}
