// ns per click for reading the token fields: URLSearchParams and its six get()
// calls (before) against QueryParams and four (src/web/query-params.ts), each
// followed by parseToken as incomingFromQuery does.
import { URLSearchParams } from 'node:url';
import { parseAdId, parseToken } from '../../../dist/src/domain/token.js';
import { QueryParams } from '../../../dist/src/web/query-params.js';
import { compare } from './timing.mjs';

const raws = Array.from(
  { length: 256 },
  (_, i) => `ad=${(i % 20) + 1}&imp=bmx556tvq1_${i.toString(36)}xx&ts=1796156474&sig=5Nr8Lbsq7ySW1d2gMbO69SNJ95GDik4RIAq36mf-jeU`,
);
compare(
  {
    'before: URLSearchParams, 6 get': (i) => {
      const q = new URLSearchParams(raws[i & 255]);
      if (parseAdId(q.get('ad')) === undefined) return false;
      const t = parseToken({ ad: q.get('ad'), imp: q.get('imp'), ts: q.get('ts'), sig: q.get('sig') });
      return t !== undefined && (q.get('imp') ?? '') !== '';
    },
    'after: QueryParams, 4 get': (i) => {
      const q = new QueryParams(raws[i & 255]);
      const ad = parseAdId(q.get('ad'));
      if (ad === undefined) return false;
      const imp = q.get('imp');
      return parseToken({ ad, imp, ts: q.get('ts'), sig: q.get('sig') }) !== undefined && (imp ?? '') !== '';
    },
  },
  { iterations: Number(process.env.N ?? 300_000) },
);
