import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { FrontProxy } from './front-proxy.js';

async function upstream(name: string): Promise<{ url: string; server: Server; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      hits.push(`${req.method} ${req.url} ${body}`);
      res.writeHead(200, { 'x-upstream': name });
      res.end(name);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, hits };
}

void test('the front proxy sends /api/ to the api and the rest round robin to collectors, skipping a dead one', async () => {
  const [c1, c2, api] = await Promise.all([upstream('c1'), upstream('c2'), upstream('api')]);
  const proxy = await FrontProxy.start({ collectors: [c1.url, c2.url], apis: [api.url] });
  try {
    const names = [];
    for (let i = 0; i < 4; i++) names.push(await (await fetch(`${proxy.url}/ad?i=${i}`)).text());
    assert.deepEqual(names.sort(), ['c1', 'c1', 'c2', 'c2']);
    // Every event of one impression goes to one collector.
    for (let i = 0; i < 8; i++) {
      const imp = `imp-${i}-abcdefgh`;
      const click = await (await fetch(`${proxy.url}/click?ad=1&imp=${imp}`)).text();
      const pixel = await (await fetch(`${proxy.url}/impression?ad=1&imp=${imp}`)).text();
      const again = await (await fetch(`${proxy.url}/click?ad=1&imp=${imp}`)).text();
      assert.ok(click === pixel && pixel === again, `${imp}: ${click} ${pixel} ${again}`);
    }
    assert.equal(await (await fetch(`${proxy.url}/api/v1/ads`)).text(), 'api');
    const posted = await fetch(`${proxy.url}/events`, { method: 'POST', body: 'line' });
    assert.equal(posted.status, 200);
    assert.ok([...c1.hits, ...c2.hits].includes('POST /events line'));
    // A collector that is gone refuses connections: its requests go to the other one.
    await new Promise<void>((resolve) => {
      c1.server.close(() => resolve());
      c1.server.closeAllConnections();
    });
    // The proxy's idle keep-alive sockets to it see their close first (a request on one already
    // written when the upstream dies is of unknown fate: a 502, never retried).
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (let i = 0; i < 4; i++)
      assert.equal(await (await fetch(`${proxy.url}/click?after=${i}`)).text(), 'c2');
    // None left: a 502 that says so.
    await new Promise<void>((resolve) => {
      c2.server.close(() => resolve());
      c2.server.closeAllConnections();
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const none = await fetch(`${proxy.url}/click`);
    assert.equal(none.status, 502);
    assert.match(await none.text(), /no upstream accepted the connection/);
  } finally {
    await proxy.close();
    api.server.close();
  }
});
