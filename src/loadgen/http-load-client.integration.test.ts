import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpLoadClient, LoadRequestError } from './http-load-client.js';

interface TestServer {
  port: number;
  /** TCP connections the server has accepted so far. */
  connections(): number;
}

const servers: Server[] = [];
const sockets = new Set<Socket>();
const clients: HttpLoadClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

async function listen(server: Server): Promise<TestServer> {
  let connections = 0;
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, connections: () => connections };
}

function httpServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  return listen(createServer(handler));
}

/** A raw TCP server, for responses node:http would never send. */
function rawServer(onRequest: (socket: Socket) => void): Promise<TestServer> {
  return listen(
    createNetServer((socket) => {
      socket.setNoDelay(true);
      socket.on('data', (data) => {
        if (data.includes('\r\n\r\n')) onRequest(socket);
      });
      socket.on('error', () => {});
    }),
  );
}

function client(port: number, connections = 4, timeoutMs = 5_000): HttpLoadClient {
  const c = new HttpLoadClient({ host: '127.0.0.1', port, connections, timeoutMs });
  clients.push(c);
  return c;
}

async function rejection(promise: Promise<unknown>): Promise<LoadRequestError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof LoadRequestError, `not a LoadRequestError: ${String(err)}`);
    return err;
  }
  assert.fail('the request succeeded');
}

describe('HttpLoadClient against real servers', () => {
  it('reads a Content-Length body and sends Host and the extra headers, nothing more', async () => {
    let seen: IncomingMessage['headers'] = {};
    const s = await httpServer((req, res) => {
      seen = req.headers;
      res.end('hello');
    });
    const c = client(s.port);
    const before = performance.now();
    const res = await c.request('GET', '/a?b=1', 'User-Agent: loadgen-test\r\n');
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'hello');
    assert.equal(res.location, undefined);
    assert.ok(before <= res.sentAt && res.sentAt <= res.answeredAt && res.answeredAt <= performance.now());
    assert.deepEqual(seen, { host: `127.0.0.1:${s.port}`, 'user-agent': 'loadgen-test' });
  });

  it('reads a chunked body written in two parts', async () => {
    const s = await httpServer((_req, res) => {
      res.write('first,');
      setTimeout(() => res.end('second'), 10);
    });
    const res = await client(s.port).request('GET', '/', '');
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'first,second');
  });

  it('returns the status and Location of a redirect', async () => {
    const s = await httpServer((_req, res) => {
      res.writeHead(302, { location: 'https://example.com/landing?x=1', 'content-length': '0' });
      res.end();
    });
    const res = await client(s.port).request('GET', '/c/abc', '');
    assert.equal(res.status, 302);
    assert.equal(res.location, 'https://example.com/landing?x=1');
    assert.equal(res.body.length, 0);
  });

  it('sends a POST body with its Content-Length', async () => {
    const s = await httpServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (p: Buffer) => parts.push(p));
      req.on('end', () => {
        res.setHeader('x-length-seen', req.headers['content-length'] ?? 'none');
        res.end(Buffer.concat(parts));
      });
    });
    const body = Buffer.from(JSON.stringify({ token: 'a'.repeat(3000), n: 1 }));
    const c = client(s.port);
    const res = await c.request('POST', '/e', 'Content-Type: application/json\r\n', body);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, body);
    const empty = await c.request('POST', '/e', '', Buffer.alloc(0));
    assert.equal(empty.body.length, 0);
  });

  it('opens a new socket after a response with Connection: close', async () => {
    const s = await httpServer((_req, res) => {
      res.setHeader('connection', 'close');
      res.end('bye');
    });
    const c = client(s.port, 1);
    for (let i = 0; i < 3; i++) assert.equal((await c.request('GET', '/', '')).body.toString(), 'bye');
    assert.equal(s.connections(), 3);
    assert.equal(c.connectionsOpened, 3);
  });

  it('rejects a request whose connection dies mid-response, and the next one succeeds', async () => {
    const s = await httpServer((req, res) => {
      if (req.url !== '/broken') {
        res.end('fine');
        return;
      }
      res.writeHead(200, { 'content-length': '100' });
      res.write('only part of it');
      setTimeout(() => req.socket.destroy(), 20);
    });
    const c = client(s.port, 1);
    const err = await rejection(c.request('GET', '/broken', ''));
    assert.equal(err.kind, 'closed');
    assert.match(err.message, /mid-response/);
    assert.equal((await c.request('GET', '/ok', '')).body.toString(), 'fine');
  });

  it('times out a request the server never answers, measured from the write, and recovers', async () => {
    const s = await httpServer((req, res) => {
      if (req.url !== '/hang') res.end('fine');
    });
    const c = client(s.port, 1, 150);
    const pending = c.request('GET', '/hang', '');
    const start = performance.now();
    const err = await rejection(pending);
    const waited = performance.now() - start;
    assert.equal(err.kind, 'timeout');
    assert.equal(err.message, 'timeout after 150 ms');
    assert.ok(waited >= 145 && waited < 1_000, `waited ${waited} ms`);
    assert.equal((await c.request('GET', '/ok', '')).body.toString(), 'fine');
    assert.equal(s.connections(), 2);
  });

  it('queues requests beyond its connections, sends each when a socket frees, and opens no more sockets', async () => {
    let active = 0;
    let mostActive = 0;
    const s = await httpServer((_req, res) => {
      mostActive = Math.max(mostActive, ++active);
      setTimeout(() => {
        active--;
        res.end('ok');
      }, 30);
    });
    const c = client(s.port, 3);
    const start = performance.now();
    const all = Array.from({ length: 20 }, () => c.request('GET', '/', ''));
    assert.equal(c.inFlight, 3);
    assert.equal(c.queued, 17);
    const responses = await Promise.all(all);
    assert.ok(responses.every((r) => r.status === 200 && r.body.toString() === 'ok'));
    assert.equal(s.connections(), 3);
    assert.equal(mostActive, 3);
    assert.equal(c.inFlight, 0);
    // A queued request's sentAt is when it left, after an earlier answer came back.
    const firstAnswer = Math.min(...responses.slice(0, 3).map((r) => r.answeredAt));
    for (const r of responses.slice(3)) assert.ok(r.sentAt >= firstAnswer && r.sentAt - start >= 25);
  });

  it('rejects with ECONNREFUSED when nothing listens, queued requests included', async () => {
    const probe = createNetServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const c = client(port, 1);
    const errors = await Promise.all([1, 2, 3].map(() => rejection(c.request('GET', '/', ''))));
    for (const err of errors) {
      assert.equal(err.kind, 'socket');
      assert.equal(err.code, 'ECONNREFUSED');
      assert.match(err.message, /ECONNREFUSED/);
    }
    assert.equal(c.connectionsOpened, 3);
  });

  it('parses a response sent one byte per TCP write', async () => {
    const text = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n';
    const s = await rawServer((socket) => {
      void (async () => {
        for (const byte of Buffer.from(text)) {
          socket.write(Buffer.from([byte]));
          await sleep(1);
        }
      })();
    });
    const c = client(s.port, 1);
    assert.equal((await c.request('GET', '/', '')).body.toString(), 'abcde');
    assert.equal((await c.request('GET', '/', '')).body.toString(), 'abcde');
    assert.equal(s.connections(), 1);
  });

  it('answers with the first of two responses in one write, then drops that out-of-step socket', async () => {
    const s = await rawServer((socket) => {
      socket.write(
        'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\noneHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo',
      );
    });
    const c = client(s.port, 1);
    assert.equal((await c.request('GET', '/', '')).body.toString(), 'one');
    assert.equal((await c.request('GET', '/', '')).body.toString(), 'one');
    assert.equal(s.connections(), 2);
  });

  it('rejects a malformed response and reconnects for the next request', async () => {
    let n = 0;
    const s = await rawServer((socket) => {
      socket.write(n++ === 0 ? 'SMTP ready\r\n\r\n' : 'HTTP/1.1 204 No Content\r\n\r\n');
    });
    const c = client(s.port, 1);
    const err = await rejection(c.request('GET', '/', ''));
    assert.equal(err.kind, 'malformed');
    assert.match(err.message, /status line/);
    assert.equal((await c.request('GET', '/', '')).status, 204);
  });

  it('rejects in-flight, queued and later requests once closed', async () => {
    const s = await httpServer(() => {});
    const c = client(s.port, 1);
    const pending = [c.request('GET', '/', ''), c.request('GET', '/', '')];
    assert.equal(c.queued, 1);
    c.close();
    for (const p of [...pending, c.request('GET', '/', '')])
      assert.equal((await rejection(p)).kind, 'client-closed');
    assert.equal(c.inFlight, 0);
    assert.equal(c.queued, 0);
  });
});
