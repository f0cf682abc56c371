import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { CONTENT_SECURITY_POLICY, StaticFiles } from './static-files.js';

const INDEX = '<!doctype html><title>adtally</title>';
const SCRIPT = `console.log(${JSON.stringify('x'.repeat(4_000))});`;

describe('StaticFiles: the dashboard build, served', () => {
  let root: string;
  let server: Server;
  let port: number;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'adtally-static-'));
    const ui = join(root, 'ui');
    mkdirSync(join(ui, 'assets'), { recursive: true });
    writeFileSync(join(ui, 'index.html'), INDEX);
    writeFileSync(join(ui, 'assets', 'index-AbCdEf12.js'), SCRIPT);
    writeFileSync(join(ui, 'assets', 'notes.unknown'), 'not a served type');
    writeFileSync(join(root, 'secret.txt'), 'outside the ui folder');
    const files = await StaticFiles.load(ui);
    assert.ok(files !== undefined);
    server = createServer((req, res) => files.serve(req, res, req.url ?? '/'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    server.close();
    rmSync(root, { recursive: true, force: true });
  });

  /** A raw request: the path is sent as written, `..` and all. */
  function get(path: string, headers: Record<string, string> = {}) {
    return new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>(
      (resolve, reject) => {
        const req = request({ port, host: '127.0.0.1', path, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
        });
        req.on('error', reject);
        req.end();
      },
    );
  }

  it('answers / with index.html, revalidated, under the Content-Security-Policy', async () => {
    const res = await get('/?from=x');
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), INDEX);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(res.headers['cache-control'], 'no-cache');
    assert.equal(res.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
    assert.match(CONTENT_SECURITY_POLICY, /default-src 'self'/);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
  });

  it('serves hashed assets as immutable, gzipped when the client takes gzip', async () => {
    const plain = await get('/assets/index-AbCdEf12.js');
    assert.equal(plain.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(plain.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(plain.body.toString(), SCRIPT);
    assert.equal(plain.headers['content-encoding'], undefined);
    const zipped = await get('/assets/index-AbCdEf12.js', { 'accept-encoding': 'br, gzip;q=0.8' });
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.ok(zipped.body.length < SCRIPT.length / 10);
    assert.equal(gunzipSync(zipped.body).toString(), SCRIPT);
    const refused = await get('/assets/index-AbCdEf12.js', { 'accept-encoding': 'gzip;q=0' });
    assert.equal(refused.headers['content-encoding'], undefined);
  });

  it('never reaches a file outside the build, however the path is spelled', async () => {
    for (const path of [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/../../secret.txt',
      '/..%2fsecret.txt',
      '/%E0%A4%A',
      '/assets/notes.unknown',
    ]) {
      const res = await get(path);
      assert.equal(res.status, 200, path);
      assert.equal(res.body.toString(), INDEX, path);
    }
  });

  it('is absent when the UI was not built', async () => {
    assert.equal(await StaticFiles.load(join(root, 'nothing-here')), undefined);
  });
});
