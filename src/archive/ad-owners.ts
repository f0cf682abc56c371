import type { Ad } from '../store/catalog-store.js';

/** What the archive records of an ad's place in the catalog. */
export interface AdOwner {
  readonly campaign: number;
  readonly advertiser: number;
}

/** The catalog's ads, as the archiver reads them (CatalogStore.listAds). */
export type LoadAds = () => Promise<readonly Pick<Ad, 'id' | 'campaignId' | 'advertiserId'>[]>;

/**
 * Each ad's campaign and advertiser, cached from the catalog. Ads are
 * created while events flow, so an ad id the cache does not know makes it
 * reload the catalog, once per batch whatever the number of new ids. An id
 * still missing after a reload is remembered as missing, so a stream of
 * events for it does not reload the catalog per batch; `unknown_ad` events
 * (ids the collector did not know) never trigger a reload.
 */
export class AdOwners {
  private owners = new Map<number, AdOwner>();
  private readonly missing = new Set<number>();
  private loaded = false;

  constructor(private readonly loadAds: LoadAds) {}

  /** Makes sure every id in `ads` is known or confirmed missing; at most one catalog read. */
  async prepare(ads: ReadonlySet<number>): Promise<void> {
    let needed = !this.loaded;
    for (const ad of ads) {
      if (needed) break;
      needed = !this.owners.has(ad) && !this.missing.has(ad);
    }
    if (!needed) return;
    await this.reload();
    for (const ad of ads) if (!this.owners.has(ad)) this.missing.add(ad);
  }

  /** The owner of `ad` as last read from the catalog; undefined for an ad it does not hold. */
  ownerOf(ad: number): AdOwner | undefined {
    return this.owners.get(ad);
  }

  private async reload(): Promise<void> {
    const ads = await this.loadAds();
    const owners = new Map<number, AdOwner>();
    for (const ad of ads) owners.set(ad.id, { campaign: ad.campaignId, advertiser: ad.advertiserId });
    this.owners = owners;
    this.missing.clear();
    this.loaded = true;
  }
}
