import type { IncomingMessage, ServerResponse } from 'node:http';
import { canSee, type Catalog, type Principal } from '../catalog/catalog.js';
import { parseTargetUrl } from '../domain/target-url.js';
import type { AdPatch } from '../store/catalog-store.js';
import { requireAdmin } from './auth.js';
import { badRequest, notFound, readJsonObject, requireId, requireName, sendJson } from './http-io.js';

function targetUrlOf(raw: unknown): string {
  const parsed = parseTargetUrl(raw);
  if (!parsed.ok) throw badRequest(parsed.reason);
  return parsed.url;
}

const PATCHABLE = new Set(['active', 'targetUrl', 'name']);

function parsePatch(body: Record<string, unknown>): AdPatch {
  const unknown = Object.keys(body).filter((k) => !PATCHABLE.has(k));
  if (unknown.length > 0)
    throw badRequest(`unknown field(s): ${unknown.join(', ')} (allowed: active, targetUrl, name)`);
  if (body.active !== undefined && typeof body.active !== 'boolean')
    throw badRequest('active must be a boolean');
  return {
    ...(body.active === undefined ? {} : { active: body.active }),
    ...(body.targetUrl === undefined ? {} : { targetUrl: targetUrlOf(body.targetUrl) }),
    ...(body.name === undefined ? {} : { name: requireName(body, 'name') }),
  };
}

/** The admin catalog routes of SPEC 3.2; listing is open to advertisers, scoped to their own. */
export function createCatalogRoutes(catalog: Catalog) {
  async function createAdvertiser(
    req: IncomingMessage,
    res: ServerResponse,
    principal: Principal,
  ): Promise<void> {
    requireAdmin(principal);
    const name = requireName(await readJsonObject(req), 'name');
    const { advertiser, apiKey } = await catalog.createAdvertiser(name);
    sendJson(res, 201, { ...advertiser, apiKey });
  }

  async function rotateKey(
    _req: IncomingMessage,
    res: ServerResponse,
    principal: Principal,
    id: number,
  ): Promise<void> {
    requireAdmin(principal);
    const rotated = await catalog.rotateKey(id);
    if (rotated === undefined) throw notFound(`advertiser ${id} does not exist`);
    sendJson(res, 200, { ...rotated.advertiser, apiKey: rotated.apiKey });
  }

  async function createCampaign(
    req: IncomingMessage,
    res: ServerResponse,
    principal: Principal,
  ): Promise<void> {
    requireAdmin(principal);
    const body = await readJsonObject(req);
    const advertiserId = requireId(body, 'advertiserId');
    const name = requireName(body, 'name');
    if ((await catalog.getAdvertiser(advertiserId)) === undefined)
      throw notFound(`advertiser ${advertiserId} does not exist`);
    sendJson(res, 201, await catalog.createCampaign(advertiserId, name));
  }

  async function createAd(req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> {
    requireAdmin(principal);
    const body = await readJsonObject(req);
    const campaignId = requireId(body, 'campaignId');
    const name = requireName(body, 'name');
    const targetUrl = targetUrlOf(body.targetUrl);
    const campaign = await catalog.getCampaign(campaignId);
    if (campaign === undefined) throw notFound(`campaign ${campaignId} does not exist`);
    sendJson(res, 201, publicAd(await catalog.createAd(campaign, name, targetUrl)));
  }

  async function patchAd(
    req: IncomingMessage,
    res: ServerResponse,
    principal: Principal,
    id: number,
  ): Promise<void> {
    requireAdmin(principal);
    const patch = parsePatch(await readJsonObject(req));
    const ad = await catalog.updateAd(id, patch);
    if (ad === undefined) throw notFound(`ad ${id} does not exist`);
    sendJson(res, 200, publicAd(ad));
  }

  async function listAdvertisers(
    _req: IncomingMessage,
    res: ServerResponse,
    principal: Principal,
  ): Promise<void> {
    sendJson(res, 200, await catalog.listAdvertisers(principal));
  }

  async function listCampaigns(
    _req: IncomingMessage,
    res: ServerResponse,
    principal: Principal,
  ): Promise<void> {
    sendJson(res, 200, await catalog.listCampaigns(principal));
  }

  function listAds(_req: IncomingMessage, res: ServerResponse, principal: Principal): void {
    sendJson(res, 200, catalog.listAds(principal).map(publicAd));
  }

  function getAd(_req: IncomingMessage, res: ServerResponse, principal: Principal, id: number): void {
    const ad = catalog.adById(id);
    if (ad === undefined || !canSee(principal, ad.advertiserId)) throw notFound(`ad ${id} does not exist`);
    sendJson(res, 200, publicAd(ad));
  }

  return {
    createAdvertiser,
    rotateKey,
    createCampaign,
    createAd,
    patchAd,
    listAdvertisers,
    listCampaigns,
    listAds,
    getAd,
  };
}

/** The ad as SPEC 3.2 shows it (the owner stays internal). */
function publicAd(ad: { id: number; campaignId: number; name: string; targetUrl: string; active: boolean }) {
  return { id: ad.id, campaignId: ad.campaignId, name: ad.name, targetUrl: ad.targetUrl, active: ad.active };
}
