/** Catalog entities as the API shows them. */
export interface Advertiser {
  readonly id: number;
  readonly name: string;
}

export interface Campaign {
  readonly id: number;
  readonly advertiserId: number;
  readonly name: string;
}

export interface Ad {
  readonly id: number;
  readonly campaignId: number;
  /** Denormalised owner, so tenancy checks need no join. */
  readonly advertiserId: number;
  readonly name: string;
  readonly targetUrl: string;
  readonly active: boolean;
}

export interface AdPatch {
  readonly active?: boolean;
  readonly targetUrl?: string;
  readonly name?: string;
}

/**
 * The catalog port. Callers validate input and check that parents exist;
 * the store only persists. API keys arrive already hashed.
 */
export interface CatalogStore {
  createAdvertiser(name: string, apiKeyHash: string): Promise<Advertiser>;
  findAdvertiserByKeyHash(apiKeyHash: string): Promise<Advertiser | undefined>;
  /** Replaces the advertiser's key hash (the old key stops working); undefined when no such advertiser. */
  rotateAdvertiserKey(id: number, apiKeyHash: string): Promise<Advertiser | undefined>;
  listAdvertisers(): Promise<Advertiser[]>;
  getAdvertiser(id: number): Promise<Advertiser | undefined>;
  createCampaign(advertiserId: number, name: string): Promise<Campaign>;
  getCampaign(id: number): Promise<Campaign | undefined>;
  listCampaigns(advertiserId?: number): Promise<Campaign[]>;
  createAd(campaign: Campaign, name: string, targetUrl: string): Promise<Ad>;
  updateAd(id: number, patch: AdPatch): Promise<Ad | undefined>;
  listAds(advertiserId?: number): Promise<Ad[]>;
  /** Whether the store answers queries (for /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
