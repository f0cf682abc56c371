// ns per encodeEvent: src/domain/event.ts against the Buffer write-method version it replaced.
import { encodeEvent, EVENT_SOURCES, EVENT_TYPES } from '../../../dist/src/domain/event.js';
import { OUTCOMES } from '../../../dist/src/domain/outcome.js';
import { USER_AGENT_CLASSES } from '../../../dist/src/domain/user-agent.js';
import { compare } from './timing.mjs';

function before(event) {
  const impLength = Math.min(Buffer.byteLength(event.imp, 'latin1'), 64);
  const out = Buffer.allocUnsafe(44 + impLength);
  out.writeUInt8(1, 0);
  out.writeUInt8(EVENT_TYPES.indexOf(event.type), 1);
  out.writeUInt8(OUTCOMES.indexOf(event.outcome), 2);
  out.writeUInt8(USER_AGENT_CLASSES.indexOf(event.userAgent), 3);
  out.writeUInt8(EVENT_SOURCES.indexOf(event.source), 4);
  out.writeUInt8(impLength, 5);
  out.writeUInt16LE(0, 6);
  out.writeUInt32LE(event.ad, 8);
  out.writeDoubleLE(event.tokenTs, 12);
  out.writeDoubleLE(event.eventTime, 20);
  out.writeDoubleLE(event.receivedAt, 28);
  if (event.ipHash.length !== 8) throw new RangeError('ipHash must be 8 bytes');
  event.ipHash.copy(out, 36);
  out.write(event.imp, 44, impLength, 'latin1');
  return out;
}
const now = Date.now();
const events = Array.from({ length: 256 }, (_, i) => ({
  type: 'click',
  ad: (i % 20) + 1,
  imp: `bmx556tvq1_${i.toString(36)}xxxxxxxx`,
  tokenTs: 1796156474,
  eventTime: now + i,
  receivedAt: now + i,
  outcome: OUTCOMES[i % 3],
  ipHash: Buffer.from('0123456789abcdef', 'hex'),
  userAgent: 'browser',
  source: 'get',
}));
for (const e of events) if (!before(e).equals(encodeEvent(e))) throw new Error('encodings differ');
compare(
  { 'before: write methods': (i) => before(events[i & 255]).length > 0, 'current encodeEvent': (i) => encodeEvent(events[i & 255]).length > 0 },
  { iterations: Number(process.env.N ?? 500_000) },
);
