import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AdtallyProcess, adminApi, makeDataDir, removeDir } from './support/adtally-process.js';

describe('catalog API (SPEC 3.2) over HTTP', () => {
  let server: AdtallyProcess;
  let dataDir: string;
  let api: ReturnType<typeof adminApi>;

  before(async () => {
    dataDir = makeDataDir();
    server = await AdtallyProcess.start(dataDir);
    api = adminApi(server.url);
  });
  after(async () => {
    await server.stop();
    removeDir(dataDir);
  });

  it('creates advertisers, campaigns and ads, and shows the API key once', async () => {
    const res = await api.call('POST', '/api/v1/advertisers', { name: 'Acme' });
    assert.equal(res.status, 201);
    const advertiser = (await res.json()) as { id: number; name: string; apiKey: string };
    assert.equal(advertiser.name, 'Acme');
    assert.match(advertiser.apiKey, /^atk_/);
    const listed = await api.json<Record<string, unknown>[]>('GET', '/api/v1/advertisers');
    assert.ok(listed.every((a) => !('apiKey' in a) && !('api_key_hash' in a)));

    const campaign = await api.call('POST', '/api/v1/campaigns', {
      advertiserId: advertiser.id,
      name: 'Spring',
    });
    assert.equal(campaign.status, 201);
    const c = (await campaign.json()) as { id: number; advertiserId: number; name: string };
    assert.deepEqual(c, { id: c.id, advertiserId: advertiser.id, name: 'Spring' });

    const ad = await api.call('POST', '/api/v1/ads', {
      campaignId: c.id,
      name: 'Banner',
      targetUrl: 'https://acme.example/x',
    });
    assert.equal(ad.status, 201);
    const a = (await ad.json()) as Record<string, unknown>;
    assert.deepEqual(a, {
      id: a.id,
      campaignId: c.id,
      name: 'Banner',
      targetUrl: 'https://acme.example/x',
      active: true,
    });

    const patched = await api.call('PATCH', `/api/v1/ads/${String(a.id)}`, {
      active: false,
      name: 'Banner 2',
    });
    assert.equal(patched.status, 200);
    assert.deepEqual(await patched.json(), { ...a, active: false, name: 'Banner 2' });
  });

  it('keeps the API key only as a hash in the store', async () => {
    const { apiKey } = await api.seed(0, 'Hashco');
    await server.stop();
    const { readFileSync } = await import('node:fs');
    const bytes = readFileSync(`${dataDir}/adtally.duckdb`);
    assert.equal(bytes.includes(Buffer.from(apiKey)), false, 'the clear API key must not be stored');
    server = await AdtallyProcess.start(dataDir);
    api = adminApi(server.url);
  });

  for (const targetUrl of ['javascript:alert(1)', '/relative', 'ftp://files.example/x', 'not a url', 42]) {
    it(`refuses targetUrl ${JSON.stringify(targetUrl)} with 400`, async () => {
      const { campaignId } = await api.seed(0, 'Urls');
      const res = await api.call('POST', '/api/v1/ads', { campaignId, name: 'x', targetUrl });
      assert.equal(res.status, 400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'bad_request');
      assert.match(body.error.message, /targetUrl/);
    });
  }

  it('validates bodies: missing fields, bad JSON, unknown parents, unknown patch fields', async () => {
    const { campaignId, adIds } = await api.seed(1, 'Valid');
    const cases: [string, string, unknown, number][] = [
      ['POST', '/api/v1/advertisers', {}, 400],
      ['POST', '/api/v1/advertisers', { name: '' }, 400],
      ['POST', '/api/v1/campaigns', { advertiserId: 'one', name: 'x' }, 400],
      ['POST', '/api/v1/campaigns', { advertiserId: 999999, name: 'x' }, 404],
      ['POST', '/api/v1/ads', { campaignId: 999999, name: 'x', targetUrl: 'https://a.example' }, 404],
      ['POST', '/api/v1/ads', { campaignId, targetUrl: 'https://a.example' }, 400],
      ['PATCH', `/api/v1/ads/${adIds[0]}`, { active: 'yes' }, 400],
      ['PATCH', `/api/v1/ads/${adIds[0]}`, { targetUrl: 'javascript:x' }, 400],
      ['PATCH', `/api/v1/ads/${adIds[0]}`, { colour: 'red' }, 400],
      ['PATCH', '/api/v1/ads/999999', { active: false }, 404],
    ];
    for (const [method, path, body, status] of cases) {
      const res = await api.call(method, path, body);
      assert.equal(res.status, status, `${method} ${path} ${JSON.stringify(body)}`);
      const error = (await res.json()) as { error?: { code: string; message: string } };
      assert.equal(typeof error.error?.message, 'string');
    }
    const notJson = await fetch(`${server.url}/api/v1/advertisers`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer adm_e2e_test_admin_token_0123456789',
        'content-type': 'application/json',
      },
      body: '{"name":',
    });
    assert.equal(notJson.status, 400);
  });

  it('answers 401 without a token and 403 with a wrong one', async () => {
    for (const path of ['/api/v1/advertisers', '/api/v1/campaigns', '/api/v1/ads']) {
      const none = await api.call('GET', path, undefined, null);
      assert.equal(none.status, 401);
      assert.equal(none.headers.get('www-authenticate'), 'Bearer');
      const wrong = await api.call('GET', path, undefined, 'atk_not_a_real_key');
      assert.equal(wrong.status, 403);
    }
    const malformed = await fetch(`${server.url}/api/v1/ads`, { headers: { authorization: 'Basic abc' } });
    assert.equal(malformed.status, 401);
  });

  it('lets an advertiser key list only its own, and never write the catalog', async () => {
    const a = await api.seed(2, 'Alpha');
    const b = await api.seed(1, 'Beta');
    const asA = adminApi(server.url, a.apiKey);
    const ads = await asA.json<{ id: number }[]>('GET', '/api/v1/ads');
    assert.deepEqual(ads.map((x) => x.id).sort(), [...a.adIds].sort());
    const campaigns = await asA.json<{ id: number }[]>('GET', '/api/v1/campaigns');
    assert.deepEqual(
      campaigns.map((x) => x.id),
      [a.campaignId],
    );
    const advertisers = await asA.json<{ id: number }[]>('GET', '/api/v1/advertisers');
    assert.deepEqual(
      advertisers.map((x) => x.id),
      [a.advertiserId],
    );
    assert.equal((await asA.call('GET', `/api/v1/ads/${b.adIds[0]}`)).status, 404);
    assert.equal((await asA.call('GET', `/api/v1/ads/${a.adIds[0]}`)).status, 200);
    assert.equal((await asA.call('PATCH', `/api/v1/ads/${b.adIds[0]}`, { active: false })).status, 403);
    assert.equal((await asA.call('PATCH', `/api/v1/ads/${a.adIds[0]}`, { active: false })).status, 403);
    assert.equal((await asA.call('POST', '/api/v1/advertisers', { name: 'Evil' })).status, 403);
    assert.equal(
      (await asA.call('POST', '/api/v1/campaigns', { advertiserId: b.advertiserId, name: 'x' })).status,
      403,
    );
  });

  it('rotates an advertiser key: the new key works at once, the old one is refused', async () => {
    const a = await api.seed(1, 'Rotor');
    const other = await api.seed(1, 'Bystander');
    const oldKey = adminApi(server.url, a.apiKey);
    assert.equal((await oldKey.call('GET', '/api/v1/ads')).status, 200, 'the old key is cached now');
    assert.equal((await oldKey.call('POST', `/api/v1/advertisers/${a.advertiserId}/key`)).status, 403);
    const res = await api.call('POST', `/api/v1/advertisers/${a.advertiserId}/key`);
    assert.equal(res.status, 200);
    const rotated = (await res.json()) as { id: number; name: string; apiKey: string };
    assert.equal(rotated.id, a.advertiserId);
    assert.match(rotated.apiKey, /^atk_/);
    assert.notEqual(rotated.apiKey, a.apiKey);
    assert.equal((await oldKey.call('GET', '/api/v1/ads')).status, 403, 'a wrong key, as any unknown one');
    const ads = await adminApi(server.url, rotated.apiKey).json<{ id: number }[]>('GET', '/api/v1/ads');
    assert.deepEqual(
      ads.map((x) => x.id),
      a.adIds,
    );
    assert.equal((await adminApi(server.url, other.apiKey).call('GET', '/api/v1/ads')).status, 200);
    assert.equal((await api.call('POST', '/api/v1/advertisers/9999/key')).status, 404);
    assert.equal((await api.call('GET', `/api/v1/advertisers/${a.advertiserId}/key`)).status, 405);
  });

  it('answers 413 for a JSON body over 64 KiB and keeps serving', async () => {
    const res = await api.call('POST', '/api/v1/advertisers', { name: 'x'.repeat(70 * 1024) });
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'payload_too_large');
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });

  it('answers 404 for unknown routes and 405 for wrong methods', async () => {
    assert.equal((await api.call('GET', '/api/v1/nothing')).status, 404);
    const res = await api.call('DELETE', '/api/v1/ads');
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, POST');
  });
});
