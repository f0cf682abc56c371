import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Reservation } from './byte-budget.js';

/** An error answer: the route stops and the client gets `{"error":{code,message}}`. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string): HttpError => new HttpError(400, 'bad_request', message);
export const notFound = (message = 'not found'): HttpError => new HttpError(404, 'not_found', message);

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * Sends a JSON body that is already encoded (the series answers: see
 * query/series-json.ts); `written` runs once the body is handed to the OS.
 */
export function sendJsonBytes(res: ServerResponse, status: number, body: Buffer, written?: () => void): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': body.length,
  });
  res.end(body, written);
}

export function sendError(res: ServerResponse, err: HttpError): void {
  sendJson(res, err.status, { error: { code: err.code, message: err.message } }, err.headers);
}

/** JSON bodies of the API: SPEC 3 caps them at 64 KiB. */
export const JSON_BODY_LIMIT = 64 * 1024;

/**
 * The client closed or reset its connection before its body was read: there
 * is nobody to answer, and it is no fault of ours (answered 499, not logged).
 */
export class ClientClosedError extends Error {
  override readonly name = 'ClientClosedError';
  constructor() {
    super('client closed the request before its body was read');
  }
}

/**
 * Reads a request body of at most `limit` bytes. A declared Content-Length over
 * the limit is refused before reading; a body that grows past it while
 * streaming is refused as soon as it does (413 either way). With a
 * `reservation`, the bytes are covered by its budget before they are kept: the
 * declared length up front, else the bytes read so far; past the budget the
 * read stops with a 503 (the caller releases the reservation). A client that
 * goes away mid-body rejects with ClientClosedError.
 */
export function readBody(req: IncomingMessage, limit: number, reservation?: Reservation): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(tooLarge(limit));
  }
  if (reservation !== undefined && declared !== undefined && !reservation.cover(Number(declared))) {
    return Promise.reject(overloaded());
  }
  // Gone before a listener was attached (the route awaited something first): no event will come.
  if (req.destroyed && !req.complete) return Promise.reject(new ClientClosedError());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const fail = (err: Error): void => {
      if (done) return;
      done = true;
      chunks.length = 0;
      reject(err);
    };
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) return fail(tooLarge(limit));
      if (reservation !== undefined && !reservation.cover(size)) return fail(overloaded());
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks, size));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      // node reports a client that reset or closed mid-body as Error('aborted'), code ECONNRESET.
      fail(err.code === 'ECONNRESET' || err.message === 'aborted' ? new ClientClosedError() : err);
    });
    req.on('close', () => {
      if (!req.complete) fail(new ClientClosedError());
    });
  });
}

// Both answer before the body is read: Connection: close, so its unread rest cannot be taken
// for the next request on the connection.
function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'payload_too_large', `request body exceeds ${limit} bytes`, {
    connection: 'close',
  });
}

function overloaded(): HttpError {
  return new HttpError(503, 'overloaded', 'too many request bytes in flight; retry shortly', {
    'retry-after': '1',
    connection: 'close',
  });
}

/**
 * A body as text. SPEC 3: JSON bodies are UTF-8; bytes that are not are a 400
 * naming the first bad line, never silently replaced by U+FFFD.
 */
export function utf8Text(body: Buffer): string {
  if (isUtf8(body)) return body.toString('utf8');
  // A newline byte never occurs inside a multi-byte UTF-8 sequence, so lines can be checked apart.
  let line = 1;
  for (let start = 0; start < body.length; line++) {
    const newline = body.indexOf(0x0a, start);
    const end = newline === -1 ? body.length : newline;
    if (!isUtf8(body.subarray(start, end))) break;
    start = end + 1;
  }
  throw new HttpError(400, 'invalid_utf8', `body is not valid UTF-8 (line ${line})`);
}

/** Parses a JSON object body; anything else is a 400 naming what was wrong. */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'];
  if (type !== undefined && !/^application\/json\b/i.test(type)) {
    throw new HttpError(415, 'unsupported_media_type', 'body must be application/json');
  }
  const text = utf8Text(await readBody(req, JSON_BODY_LIMIT));
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw badRequest('body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw badRequest('body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

/** A required non-empty string field of at most 200 characters. */
export function requireName(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value.trim().length === 0 || value.length > 200) {
    throw badRequest(`${field} must be a non-empty string of at most 200 characters`);
  }
  return value.trim();
}

/** A required positive integer id field. */
export function requireId(body: Record<string, unknown>, field: string): number {
  const value = body[field];
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > 2_147_483_647) {
    throw badRequest(`${field} must be a positive integer`);
  }
  return value;
}
