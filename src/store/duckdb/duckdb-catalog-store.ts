import type { Ad, AdPatch, Advertiser, Campaign, CatalogStore } from '../catalog-store.js';
import type { DuckDbDatabase } from './duckdb-database.js';

const SCHEMA = `
CREATE SEQUENCE IF NOT EXISTS advertiser_ids START 1;
CREATE SEQUENCE IF NOT EXISTS campaign_ids START 1;
CREATE SEQUENCE IF NOT EXISTS ad_ids START 1;
CREATE TABLE IF NOT EXISTS advertisers (
  id INTEGER PRIMARY KEY DEFAULT nextval('advertiser_ids'),
  name VARCHAR NOT NULL,
  api_key_hash VARCHAR NOT NULL UNIQUE,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- The key of an advertiser whose key was rotated, which replaces advertisers.api_key_hash:
-- DuckDB runs an UPDATE of an indexed column as a delete and an insert, which the foreign
-- keys of campaigns and ads refuse, so the original column is never updated.
CREATE TABLE IF NOT EXISTS advertiser_keys (
  advertiser_id INTEGER PRIMARY KEY REFERENCES advertisers(id),
  api_key_hash VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS campaigns (
  id INTEGER PRIMARY KEY DEFAULT nextval('campaign_ids'),
  advertiser_id INTEGER NOT NULL REFERENCES advertisers(id),
  name VARCHAR NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS ads (
  id INTEGER PRIMARY KEY DEFAULT nextval('ad_ids'),
  campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
  advertiser_id INTEGER NOT NULL REFERENCES advertisers(id),
  name VARCHAR NOT NULL,
  target_url VARCHAR NOT NULL,
  active BOOLEAN NOT NULL DEFAULT true,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
`;

interface AdRow {
  id: number;
  campaign_id: number;
  advertiser_id: number;
  name: string;
  target_url: string;
  active: boolean;
}

const toAd = (r: AdRow): Ad => ({
  id: r.id,
  campaignId: r.campaign_id,
  advertiserId: r.advertiser_id,
  name: r.name,
  targetUrl: r.target_url,
  active: r.active,
});

const toCampaign = (r: { id: number; advertiser_id: number; name: string }): Campaign => ({
  id: r.id,
  advertiserId: r.advertiser_id,
  name: r.name,
});

const AD_COLUMNS = 'id, campaign_id, advertiser_id, name, target_url, active';

/** The catalog in the embedded DuckDB file. */
export class DuckDbCatalogStore implements CatalogStore {
  private constructor(private readonly db: DuckDbDatabase) {}

  static async create(db: DuckDbDatabase): Promise<DuckDbCatalogStore> {
    await db.run(SCHEMA);
    return new DuckDbCatalogStore(db);
  }

  async createAdvertiser(name: string, apiKeyHash: string): Promise<Advertiser> {
    const [row] = await this.db.all<Advertiser>(
      'INSERT INTO advertisers (name, api_key_hash) VALUES ($1, $2) RETURNING id, name',
      [name, apiKeyHash],
    );
    return row!;
  }

  async findAdvertiserByKeyHash(apiKeyHash: string): Promise<Advertiser | undefined> {
    const [row] = await this.db.all<Advertiser>(
      `SELECT a.id, a.name FROM advertisers a LEFT JOIN advertiser_keys k ON k.advertiser_id = a.id
       WHERE coalesce(k.api_key_hash, a.api_key_hash) = $1`,
      [apiKeyHash],
    );
    return row;
  }

  async rotateAdvertiserKey(id: number, apiKeyHash: string): Promise<Advertiser | undefined> {
    const advertiser = await this.getAdvertiser(id);
    if (advertiser === undefined) return undefined;
    await this.db.run(
      `INSERT INTO advertiser_keys VALUES ($1, $2)
       ON CONFLICT (advertiser_id) DO UPDATE SET api_key_hash = excluded.api_key_hash`,
      [id, apiKeyHash],
    );
    return advertiser;
  }

  listAdvertisers(): Promise<Advertiser[]> {
    return this.db.all<Advertiser>('SELECT id, name FROM advertisers ORDER BY id');
  }

  async getAdvertiser(id: number): Promise<Advertiser | undefined> {
    const [row] = await this.db.all<Advertiser>('SELECT id, name FROM advertisers WHERE id = $1', [id]);
    return row;
  }

  async createCampaign(advertiserId: number, name: string): Promise<Campaign> {
    const [row] = await this.db.all<{ id: number; advertiser_id: number; name: string }>(
      'INSERT INTO campaigns (advertiser_id, name) VALUES ($1, $2) RETURNING id, advertiser_id, name',
      [advertiserId, name],
    );
    return toCampaign(row!);
  }

  async getCampaign(id: number): Promise<Campaign | undefined> {
    const [row] = await this.db.all<{ id: number; advertiser_id: number; name: string }>(
      'SELECT id, advertiser_id, name FROM campaigns WHERE id = $1',
      [id],
    );
    return row === undefined ? undefined : toCampaign(row);
  }

  async listCampaigns(advertiserId?: number): Promise<Campaign[]> {
    const rows = await this.db.all<{ id: number; advertiser_id: number; name: string }>(
      advertiserId === undefined
        ? 'SELECT id, advertiser_id, name FROM campaigns ORDER BY id'
        : 'SELECT id, advertiser_id, name FROM campaigns WHERE advertiser_id = $1 ORDER BY id',
      advertiserId === undefined ? [] : [advertiserId],
    );
    return rows.map(toCampaign);
  }

  async createAd(campaign: Campaign, name: string, targetUrl: string): Promise<Ad> {
    const [row] = await this.db.all<AdRow>(
      `INSERT INTO ads (campaign_id, advertiser_id, name, target_url) VALUES ($1, $2, $3, $4) RETURNING ${AD_COLUMNS}`,
      [campaign.id, campaign.advertiserId, name, targetUrl],
    );
    return toAd(row!);
  }

  async updateAd(id: number, patch: AdPatch): Promise<Ad | undefined> {
    // COALESCE keeps the columns the patch leaves out.
    const [row] = await this.db.all<AdRow>(
      `UPDATE ads SET active = COALESCE($2, active), target_url = COALESCE($3, target_url), name = COALESCE($4, name)
       WHERE id = $1 RETURNING ${AD_COLUMNS}`,
      [id, patch.active ?? null, patch.targetUrl ?? null, patch.name ?? null],
    );
    return row === undefined ? undefined : toAd(row);
  }

  async listAds(advertiserId?: number): Promise<Ad[]> {
    const rows = await this.db.all<AdRow>(
      advertiserId === undefined
        ? `SELECT ${AD_COLUMNS} FROM ads ORDER BY id`
        : `SELECT ${AD_COLUMNS} FROM ads WHERE advertiser_id = $1 ORDER BY id`,
      advertiserId === undefined ? [] : [advertiserId],
    );
    return rows.map(toAd);
  }

  async ping(): Promise<void> {
    await this.db.all('SELECT 1');
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
