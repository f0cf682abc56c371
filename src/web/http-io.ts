import type { IncomingMessage, ServerResponse } from 'node:http';

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
 * Reads a request body of at most `limit` bytes. A declared Content-Length over
 * the limit is refused before reading; a body that grows past it while
 * streaming is refused as soon as it does (413 either way).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks, size));
    });
    req.on('error', (err) => {
      if (!done) reject(err);
    });
  });
}

function tooLarge(limit: number): HttpError {
  // Connection: close, so the unread rest of the body cannot be taken for the next request.
  return new HttpError(413, 'payload_too_large', `request body exceeds ${limit} bytes`, {
    connection: 'close',
  });
}

/** Parses a JSON object body; anything else is a 400 naming what was wrong. */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'];
  if (type !== undefined && !/^application\/json\b/i.test(type)) {
    throw new HttpError(415, 'unsupported_media_type', 'body must be application/json');
  }
  const body = await readBody(req, JSON_BODY_LIMIT);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
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
