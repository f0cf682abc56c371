/**
 * Validates an ad's redirect target: an absolute http or https URL with a
 * host. Anything else (`javascript:`, `data:`, relative paths, ftp) would turn
 * the click route into an open or script redirect.
 */
export function parseTargetUrl(raw: unknown): { ok: true; url: string } | { ok: false; reason: string } {
  if (typeof raw !== 'string' || raw.length === 0) return { ok: false, reason: 'targetUrl must be a string' };
  if (raw.length > 2048) return { ok: false, reason: 'targetUrl must be at most 2048 characters' };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'targetUrl must be an absolute http or https URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return {
      ok: false,
      reason: `targetUrl scheme must be http or https, not ${url.protocol.replace(':', '')}`,
    };
  }
  if (url.hostname === '') return { ok: false, reason: 'targetUrl must name a host' };
  if (url.username !== '' || url.password !== '') {
    return { ok: false, reason: 'targetUrl must not carry credentials' };
  }
  return { ok: true, url: url.href };
}
