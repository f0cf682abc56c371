import { createHash, randomBytes } from 'node:crypto';
import type { Ad, AdPatch, Advertiser, Campaign, CatalogStore } from '../store/catalog-store.js';

/** Advertiser API keys: high-entropy random, so a fast hash is enough to store them safely. */
export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex');
}

export function generateApiKey(): string {
  return `atk_${randomBytes(24).toString('base64url')}`;
}

/** Who is calling an authenticated route. */
export type Principal =
  { readonly kind: 'admin' } | { readonly kind: 'advertiser'; readonly advertiserId: number };

/** Whether `principal` may see data owned by `advertiserId`. */
export function canSee(principal: Principal, advertiserId: number): boolean {
  return principal.kind === 'admin' || principal.advertiserId === advertiserId;
}

/**
 * The catalog with its ads held in memory: the click path looks an ad up on
 * every request and must not wait for the store. Every write goes through
 * here, so the memory copy never lags the store in one process.
 */
export class Catalog {
  private readonly ads = new Map<number, Ad>();
  private activeAds: Ad[] = [];
  private readonly keyCache = new Map<string, Advertiser>();

  private constructor(private readonly store: CatalogStore) {}

  static async load(store: CatalogStore): Promise<Catalog> {
    const catalog = new Catalog(store);
    for (const ad of await store.listAds()) catalog.ads.set(ad.id, ad);
    catalog.reindexActive();
    return catalog;
  }

  /**
   * Reads the ads again from the store: how a collector picks up a change
   * another process (`adtally api`) made, when the store tells it one happened.
   * Replaced whole, so a lookup sees the old set or the new one.
   */
  async reloadAds(): Promise<void> {
    const ads = await this.store.listAds();
    this.ads.clear();
    for (const ad of ads) this.ads.set(ad.id, ad);
    this.reindexActive();
  }

  private reindexActive(): void {
    this.activeAds = [...this.ads.values()].filter((ad) => ad.active);
  }

  /** The hot-path lookup. */
  adById(id: number): Ad | undefined {
    return this.ads.get(id);
  }

  /** A uniformly random active ad, of one campaign when given. */
  pickActiveAd(campaignId?: number, random: () => number = Math.random): Ad | undefined {
    const pool =
      campaignId === undefined ? this.activeAds : this.activeAds.filter((a) => a.campaignId === campaignId);
    return pool[Math.floor(random() * pool.length)];
  }

  async authenticate(apiKey: string): Promise<Advertiser | undefined> {
    const hash = hashApiKey(apiKey);
    const cached = this.keyCache.get(hash);
    if (cached !== undefined) return cached;
    const advertiser = await this.store.findAdvertiserByKeyHash(hash);
    if (advertiser !== undefined) this.keyCache.set(hash, advertiser);
    return advertiser;
  }

  /**
   * Gives the advertiser a new API key; the old one stops working at once in
   * this process, and in the others when the store's change notice reaches
   * them (forgetKeys). The clear key is returned here and never again.
   */
  async rotateKey(id: number): Promise<{ advertiser: Advertiser; apiKey: string } | undefined> {
    const apiKey = generateApiKey();
    const advertiser = await this.store.rotateAdvertiserKey(id, hashApiKey(apiKey));
    if (advertiser !== undefined) this.forgetKeys();
    return advertiser === undefined ? undefined : { advertiser, apiKey };
  }

  /** Drops the keys authenticated so far: each is checked against the store again at its next use. */
  forgetKeys(): void {
    this.keyCache.clear();
  }

  /** Creates an advertiser; the clear API key is returned here and never again. */
  async createAdvertiser(name: string): Promise<{ advertiser: Advertiser; apiKey: string }> {
    const apiKey = generateApiKey();
    const advertiser = await this.store.createAdvertiser(name, hashApiKey(apiKey));
    return { advertiser, apiKey };
  }

  listAdvertisers(principal: Principal): Promise<Advertiser[]> {
    return this.store.listAdvertisers().then((all) => all.filter((a) => canSee(principal, a.id)));
  }

  getAdvertiser(id: number): Promise<Advertiser | undefined> {
    return this.store.getAdvertiser(id);
  }

  createCampaign(advertiserId: number, name: string): Promise<Campaign> {
    return this.store.createCampaign(advertiserId, name);
  }

  getCampaign(id: number): Promise<Campaign | undefined> {
    return this.store.getCampaign(id);
  }

  listCampaigns(principal: Principal): Promise<Campaign[]> {
    return this.store.listCampaigns(principal.kind === 'admin' ? undefined : principal.advertiserId);
  }

  async createAd(campaign: Campaign, name: string, targetUrl: string): Promise<Ad> {
    const ad = await this.store.createAd(campaign, name, targetUrl);
    this.ads.set(ad.id, ad);
    this.reindexActive();
    return ad;
  }

  async updateAd(id: number, patch: AdPatch): Promise<Ad | undefined> {
    const ad = await this.store.updateAd(id, patch);
    if (ad !== undefined) {
      this.ads.set(ad.id, ad);
      this.reindexActive();
    }
    return ad;
  }

  /** The ads of one campaign, from memory. */
  adsOfCampaign(campaignId: number): Ad[] {
    return [...this.ads.values()].filter((ad) => ad.campaignId === campaignId);
  }

  listAds(principal: Principal): Ad[] {
    return [...this.ads.values()]
      .filter((ad) => canSee(principal, ad.advertiserId))
      .sort((a, b) => a.id - b.id);
  }
}
