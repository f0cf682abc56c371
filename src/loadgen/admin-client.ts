import { COUNT_FIELDS, emptyCounts, type BucketCounts } from '../aggregate/counts.js';
import type { ObservedCounts } from './ground-truth.js';

export interface CatalogAd {
  readonly id: number;
  readonly campaignId: number;
  readonly targetUrl: string;
  readonly active: boolean;
}

type Reasons = { duplicate: number; bot: number; prefetch: number; bad_signature: number; expired: number };

interface SeriesAnswer {
  readonly watermark: string | null;
  readonly series: readonly {
    ts: string;
    impressions: number;
    clicks: number;
    invalid: Reasons;
    invalidImpressions?: Reasons;
  }[];
}

const ADS_PER_CAMPAIGN = 10;

/** The catalog and query API of a target, as loadgen uses them (admin token). */
export class AdminClient {
  constructor(
    private readonly base: URL,
    private readonly token: string,
  ) {}

  /** One advertiser, campaigns of ten ads, `count` ads; returns them in creation order. */
  async createAds(count: number, label: string, concurrency = 8): Promise<CatalogAd[]> {
    const advertiser = await this.call<{ id: number }>('POST', '/api/v1/advertisers', {
      name: `loadgen ${label}`,
    });
    const campaigns: number[] = [];
    for (let i = 0; i < Math.ceil(count / ADS_PER_CAMPAIGN); i++) {
      const campaign = await this.call<{ id: number }>('POST', '/api/v1/campaigns', {
        advertiserId: advertiser.id,
        name: `loadgen ${label} campaign ${i}`,
      });
      campaigns.push(campaign.id);
    }
    const ads: CatalogAd[] = new Array<CatalogAd>(count);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        const i = next++;
        ads[i] = await this.call<CatalogAd>('POST', '/api/v1/ads', {
          campaignId: campaigns[Math.floor(i / ADS_PER_CAMPAIGN)],
          name: `loadgen ${label} ad ${i}`,
          targetUrl: `https://shop.example/loadgen/${label}/${i}`,
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
    return ads;
  }

  async activeAds(): Promise<CatalogAd[]> {
    const ads = await this.call<CatalogAd[]>('GET', '/api/v1/ads');
    return ads.filter((ad) => ad.active);
  }

  /** The watermark (ms) the target reports, or undefined before it has counted anything. */
  async watermark(ad: number): Promise<number | undefined> {
    const answer = await this.call<SeriesAnswer>('GET', `/api/v1/ads/${ad}/aggregates?granularity=minute`);
    return answer.watermark === null ? undefined : Date.parse(answer.watermark);
  }

  /** The minute counts of one ad over [fromMs, toMs), keyed by minute start. */
  async minuteCounts(ad: number, fromMs: number, toMs: number): Promise<ObservedCounts> {
    const query = `from=${new Date(fromMs).toISOString()}&to=${new Date(toMs).toISOString()}&granularity=minute`;
    const answer = await this.call<SeriesAnswer>('GET', `/api/v1/ads/${ad}/aggregates?${query}`);
    const counts = new Map<number, BucketCounts>();
    for (const b of answer.series) {
      const c = emptyCounts();
      c.impressions = b.impressions;
      c.clicks = b.clicks;
      c.clickDuplicate = b.invalid.duplicate;
      c.clickBot = b.invalid.bot;
      c.clickPrefetch = b.invalid.prefetch;
      c.clickBadSignature = b.invalid.bad_signature;
      c.clickExpired = b.invalid.expired;
      const imp = b.invalidImpressions;
      if (imp !== undefined) {
        c.impressionDuplicate = imp.duplicate;
        c.impressionBot = imp.bot;
        c.impressionPrefetch = imp.prefetch;
        c.impressionBadSignature = imp.bad_signature;
        c.impressionExpired = imp.expired;
      }
      if (COUNT_FIELDS.some((f) => typeof c[f] !== 'number')) {
        throw new Error(`ad ${ad}: bucket ${b.ts} is missing counters`);
      }
      counts.set(Date.parse(b.ts), c);
    }
    return counts;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(new URL(path, this.base), {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? null : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text.slice(0, 200)}`);
    return JSON.parse(text) as T;
  }
}
