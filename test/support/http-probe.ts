import { request } from 'node:http';
import { connect } from 'node:net';

/** The value of one sample line of /metrics, 0 when the series does not exist yet. */
export async function metricValue(base: string, series: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** Polls /metrics until `series` reaches `expected` (the server counts an abort a moment later). */
export async function waitForMetric(base: string, series: string, expected: number): Promise<number> {
  let value = await metricValue(base, series);
  for (let i = 0; i < 100 && value !== expected; i++) {
    await new Promise((r) => setTimeout(r, 50));
    value = await metricValue(base, series);
  }
  return value;
}

/**
 * Sends a request's head and the first `sent` bytes of a body declared as
 * `declared` bytes, then resets the connection: a client that gives up mid-upload.
 */
export async function abortMidBody(
  base: string,
  path: string,
  headers: Record<string, string>,
  declared: number,
  sent: number,
): Promise<void> {
  const { hostname, port } = new URL(base);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((done, fail) => {
    socket.once('connect', done);
    socket.once('error', fail);
  });
  const head = [
    `POST ${path} HTTP/1.1`,
    `host: ${hostname}:${port}`,
    `content-length: ${declared}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    '',
    '',
  ].join('\r\n');
  await new Promise<void>((done) => socket.write(head + 'x'.repeat(sent), () => done()));
  // Let the server start reading the body before the connection goes.
  await new Promise((r) => setTimeout(r, 100));
  socket.resetAndDestroy();
}

/** A GET with headers fetch will not send as given (Host). */
export function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((done, fail) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', fail);
    req.end();
  });
}
