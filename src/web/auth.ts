import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Catalog, Principal } from '../catalog/catalog.js';
import { HttpError } from './http-io.js';

const unauthorized = (message: string): HttpError =>
  new HttpError(401, 'unauthorized', message, { 'www-authenticate': 'Bearer' });

/** Constant-time string equality (both sides hashed first so lengths never leak). */
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/**
 * Resolves the caller of an authenticated route from `Authorization: Bearer`.
 * No token: 401. A token that is neither the admin token nor a known API key: 403.
 */
export async function authenticate(
  req: IncomingMessage,
  adminToken: string,
  catalog: Catalog,
): Promise<Principal> {
  const header = req.headers.authorization;
  if (header === undefined) throw unauthorized('missing Authorization: Bearer <token>');
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match === null) throw unauthorized('Authorization must be "Bearer <token>"');
  const token = match[1]!;
  if (sameSecret(token, adminToken)) return { kind: 'admin' };
  const advertiser = await catalog.authenticate(token);
  if (advertiser === undefined) throw new HttpError(403, 'forbidden', 'token is not valid');
  return { kind: 'advertiser', advertiserId: advertiser.id };
}

export function requireAdmin(principal: Principal): void {
  if (principal.kind !== 'admin') throw new HttpError(403, 'forbidden', 'this route needs the admin token');
}
