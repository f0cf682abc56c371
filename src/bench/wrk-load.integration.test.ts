import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseToken, verifyToken } from '../domain/token.js';
import { BROWSER_HEADER } from './request-load.js';
import { driveWithWrk, ensureWrk, runWrk, writeClickPaths } from './wrk-load.js';

/** A 302 server that records the path and User-Agent of every request it gets. */
async function recordingServer(): Promise<{
  url: string;
  seen: string[];
  agents: Set<string>;
  server: Server;
}> {
  const seen: string[] = [];
  const agents = new Set<string>();
  const server = createServer((req, res) => {
    seen.push(req.url ?? '');
    agents.add(req.headers['user-agent'] ?? '');
    res.writeHead(302, { location: 'https://example.com/', 'content-length': '0' });
    res.end();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, agents, server };
}

describe('wrk load', () => {
  const dir = mkdtempSync(join(tmpdir(), 'adtally-wrk-test-'));
  let target: Awaited<ReturnType<typeof recordingServer>>;
  before(async () => {
    // The same script the bench runs: installs wrk on a machine without it (CI is root).
    const wrk = await ensureWrk();
    assert.ok(wrk.ready, wrk.ready ? '' : wrk.reason);
    target = await recordingServer();
  });
  after(() => {
    target?.server.closeAllConnections();
    target?.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an install script that fails makes wrk unavailable with its last line as the reason', async () => {
    const script = join(dir, 'no-wrk.sh');
    writeFileSync(script, 'echo "installing wrk" >&2\necho "no network for apt-get" >&2\nexit 1\n');
    assert.deepEqual(await ensureWrk(script), { ready: false, reason: 'no network for apt-get' });
  });

  it('writes validly signed click paths, each on a new impression id', async () => {
    const file = join(dir, 'signed.txt');
    await writeClickPaths(file, [3, 5, 8], 'wrk-test-secret-0123456789abcdef', 25_000);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 25_000);
    const imps = new Set<string>();
    for (const line of lines) {
      const url = new URL(line, 'http://x');
      assert.equal(url.pathname, '/click');
      const q = url.searchParams;
      const token = parseToken({ ad: q.get('ad'), imp: q.get('imp'), ts: q.get('ts'), sig: q.get('sig') });
      assert.ok(token !== undefined && [3, 5, 8].includes(token.ad), line);
      assert.equal(verifyToken('wrk-test-secret-0123456789abcdef', token, Date.now(), 3_600), 'valid');
      imps.add(token.imp);
    }
    assert.equal(imps.size, lines.length, 'no impression id twice');
  });

  it('sends each path of the file once, in order from where the warm-up stopped, with the browser header', async () => {
    const file = join(dir, 'plain.txt');
    const count = 500_000;
    writeFileSync(file, Array.from({ length: count }, (_, i) => `/p?n=${i}\n`).join(''));
    const figures = await driveWithWrk(target.url, {
      pathsFile: file,
      pathCount: count,
      durationMs: 1_000,
      warmupMs: 1_000,
      connections: 4,
      timeoutMs: 5_000,
    });
    const numbers = target.seen.map((p) => Number(/^\/p\?n=(\d+)$/.exec(p)![1]));
    assert.equal(new Set(numbers).size, numbers.length, 'no path twice across warm-up and run');
    assert.ok(figures.answered > 0 && figures.answered < numbers.length, 'the warm-up is not counted');
    // Lines are sent in order over 4 connections: what arrived is the start of the file, but for the
    // few requests in flight when wrk stopped each run.
    assert.ok(Math.max(...numbers) < numbers.length + 16, `highest line ${Math.max(...numbers)}`);
    assert.equal(figures.repeatedPaths, 0);
    assert.equal(figures.failed, 0);
    assert.equal(figures.validClicks, null);
    assert.ok(figures.p50 > 0 && figures.p50 <= figures.p99 && figures.p99 <= figures.p999);
    assert.deepEqual([...target.agents], [BROWSER_HEADER.slice('User-Agent: '.length).trim()]);
  });

  it('starts the file again when it runs out, and the figures count the repeats', async () => {
    const file = join(dir, 'short.txt');
    writeFileSync(file, Array.from({ length: 100 }, (_, i) => `/q?n=${i}\n`).join(''));
    target.seen.length = 0;
    const out = await runWrk(target.url, {
      pathsFile: file,
      skip: 90,
      durationMs: 1_000,
      connections: 1,
      timeoutMs: 5_000,
    });
    // wrk calls request() once before the run to check it: line 90 is used up there, never sent.
    assert.deepEqual(
      target.seen.slice(0, 15),
      [91, 92, 93, 94, 95, 96, 97, 98, 99, 0, 1, 2, 3, 4, 5].map((n) => `/q?n=${n}`),
    );
    assert.ok(out.script !== undefined && out.script.wraps >= 1 && out.script.paths >= out.requests);
    const figures = await driveWithWrk(target.url, {
      pathsFile: file,
      pathCount: 100,
      durationMs: 1_000,
      warmupMs: 0,
      connections: 1,
      timeoutMs: 5_000,
    });
    assert.ok(figures.repeatedPaths >= figures.answered - 100, `${figures.repeatedPaths} repeated`);
    assert.ok(figures.repeatedPaths > 0);
  });
});
