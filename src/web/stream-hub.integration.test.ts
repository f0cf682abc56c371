import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { emptyCounts } from '../aggregate/counts.js';
import type { Principal } from '../catalog/catalog.js';
import { HttpError, sendError } from './http-io.js';
import { DEFAULT_STREAM_LIMITS, StreamHub, type StreamLimits } from './stream-hub.js';

/** Ads 10 and 11 belong to advertiser 1, ad 20 to advertiser 2. */
const OWNERS = new Map([
  [10, 1],
  [11, 1],
  [20, 2],
]);

const delta = (ad: number, minute: number, clicks = 1) => ({
  ad,
  minute,
  counts: { ...emptyCounts(), clicks },
});

/** A real HTTP server whose one route subscribes the caller named by the `who` header. */
async function hubServer(
  limits: Partial<StreamLimits> = {},
): Promise<{ hub: StreamHub; server: Server; port: number }> {
  const hub = new StreamHub((ad) => OWNERS.get(ad), { ...DEFAULT_STREAM_LIMITS, ...limits });
  const server = createServer((req, res) => {
    const who = req.headers.who;
    const principal: Principal =
      who === 'admin' ? { kind: 'admin' } : { kind: 'advertiser', advertiserId: Number(who) };
    hub.subscribe(res, principal).catch((err: unknown) => sendError(res, err as HttpError));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { hub, server, port: (server.address() as AddressInfo).port };
}

/** Opens a stream and collects its text. */
function open(
  port: number,
  who: string,
): Promise<{ res: IncomingMessage; text: () => string; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = request({ port, host: '127.0.0.1', path: '/', headers: { who } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      const ended = new Promise<void>((done) => res.on('close', done));
      resolve({ res, text: () => text, ended });
    });
    req.on('error', reject);
    req.end();
  });
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

function commits(text: string): { changes: { ad: number; counts: { clicks: number } }[] }[] {
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('event: commit'))
    .map(
      (block) =>
        JSON.parse(block.slice(block.indexOf('data: ') + 6)) as {
          changes: { ad: number; counts: { clicks: number } }[];
        },
    );
}

describe('StreamHub: the /api/v1/stream fan-out', () => {
  let cleanup: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanup) c();
    cleanup = [];
  });

  it('sends each subscriber the changes of its own ads only, the admin all of them', async () => {
    const { hub, server, port } = await hubServer();
    cleanup.push(
      () => server.close(),
      () => hub.close(),
    );
    const [one, two, admin] = await Promise.all([open(port, '1'), open(port, '2'), open(port, 'admin')]);
    await until(() => hub.stats().clients === 3, 'three subscribers');
    hub.publish({ offset: 5, watermark: 60_000, deltas: [delta(10, 1), delta(20, 1, 4), delta(99, 1)] });
    hub.publish({ offset: 6, watermark: 60_000, deltas: [delta(11, 2)] });
    await until(() => commits(admin.text()).length === 2 && commits(one.text()).length === 2, 'the events');
    assert.deepEqual(
      commits(one.text()).flatMap((c) => c.changes.map((x) => x.ad)),
      [10, 11],
    );
    assert.deepEqual(
      commits(two.text()).flatMap((c) => c.changes.map((x) => x.ad)),
      [20],
    );
    assert.equal(commits(two.text())[0]!.changes[0]!.counts.clicks, 4);
    // An ad the catalog does not know is nobody's.
    assert.deepEqual(
      commits(admin.text()).flatMap((c) => c.changes.map((x) => x.ad)),
      [10, 20, 11],
    );
    assert.match(one.text(), /^retry: 2000\nevent: hello\n/);
    assert.equal(one.res.headers['content-type'], 'text/event-stream; charset=utf-8');
  });

  it('answers a new subscriber only once primed, and sends it nothing before its hello', async () => {
    const { hub, server, port } = await hubServer();
    cleanup.push(
      () => server.close(),
      () => hub.close(),
    );
    let primed!: () => void;
    let primes = 0;
    hub.primeWith(() => {
      primes++;
      return new Promise((resolve) => (primed = resolve));
    });
    let answered = false;
    const opening = open(port, '1').then((stream) => ((answered = true), stream));
    await until(() => primes === 1, 'the priming read');
    assert.equal(hub.stats().clients, 1, 'counted (and watched) while priming');
    // A commit while priming is in the baseline the priming read takes: not sent.
    hub.publish({ offset: 1, watermark: 60_000, deltas: [delta(10, 1)] });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(answered, false, 'no headers before the baseline is read');
    primed();
    const stream = await opening;
    hub.publish({ offset: 2, watermark: 60_000, deltas: [delta(11, 1)] });
    await until(() => commits(stream.text()).length === 1, 'the event after hello');
    assert.deepEqual(
      commits(stream.text()).flatMap((c) => c.changes.map((x) => x.ad)),
      [11],
    );
    assert.match(stream.text(), /^retry: 2000\nevent: hello\n/);
  });

  it('answers 503 past the most clients it holds, and takes one again once a stream closes', async () => {
    const { hub, server, port } = await hubServer({ maxClients: 1 });
    cleanup.push(
      () => server.close(),
      () => hub.close(),
    );
    const first = await open(port, '1');
    const refused = await open(port, '1');
    assert.equal(refused.res.statusCode, 503);
    await refused.ended;
    assert.match(refused.text(), /too_many_streams/);
    first.res.destroy();
    await until(() => hub.stats().clients === 0, 'the closed stream to leave');
    const again = await open(port, '1');
    assert.equal(again.res.statusCode, 200);
  });

  it('coalesces what a client that stops reading misses into one resync, its buffer bounded', async () => {
    const queueBytes = 64 * 1024;
    const { hub, server, port } = await hubServer({ queueBytes, changesPerEvent: 500 });
    cleanup.push(
      () => server.close(),
      () => hub.close(),
    );
    const slow = await open(port, '1');
    slow.res.pause();
    const big = Array.from({ length: 500 }, (_, i) => delta(10, i));
    // Far more than the kernel's socket buffers hold: the rest would pile up in our memory.
    for (let i = 0; i < 400 && hub.stats().resyncs === 0; i++) {
      hub.publish({ offset: i, watermark: undefined, deltas: big });
      await new Promise((r) => setImmediate(r));
    }
    const sent = hub.stats().eventsSent;
    assert.ok(sent < 400, `the hub kept writing to a client that reads nothing (${sent} events)`);
    slow.res.resume();
    await until(() => slow.text().includes('event: resync'), 'the resync event');
    assert.equal(hub.stats().resyncs, 1);
    // Once caught up, events flow again.
    hub.publish({ offset: 999, watermark: undefined, deltas: [delta(11, 1)] });
    await until(() => commits(slow.text()).some((c) => c.changes[0]!.ad === 11), 'an event after the resync');
  });

  it('ends every stream on close and refuses new ones', async () => {
    const { hub, server, port } = await hubServer();
    cleanup.push(() => server.close());
    const stream = await open(port, '2');
    await until(() => hub.stats().clients === 1, 'the subscriber');
    hub.close();
    await stream.ended;
    assert.match(stream.text(), /event: bye/);
    const late = await open(port, '2');
    assert.equal(late.res.statusCode, 503);
  });
});
