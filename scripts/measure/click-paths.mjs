#!/usr/bin/env node
// Writes `count` signed /click paths, one a line, each on a fresh impression id,
// ads 1..ads round robin, for wrk (scripts/measure/paths.lua): signing in the
// load generator would cost the shared machine's CPU during the measurement.
// usage: node scripts/measure/click-paths.mjs <out-file> <count> <ads> [secret]
import { createWriteStream } from 'node:fs';
import { signToken } from '../../dist/src/domain/token.js';
import { TEST_SECRET } from '../../dist/test/support/adtally-process.js';

const [out, countArg, adsArg, secret = TEST_SECRET] = process.argv.slice(2);
const file = createWriteStream(out);
const ts = Math.floor(Date.now() / 1000);
const prefix = `w${Date.now().toString(36)}_`;
const ads = Number(adsArg);
let chunk = '';
for (let i = 0; i < Number(countArg); i++) {
  const ad = (i % ads) + 1;
  const t = signToken(secret, ad, `${prefix}${i.toString(36).padStart(6, '0')}`, ts);
  chunk += `/click?ad=${ad}&imp=${t.imp}&ts=${t.ts}&sig=${t.sig}\n`;
  if (chunk.length > 1 << 20) {
    if (!file.write(chunk)) await new Promise((r) => file.once('drain', r));
    chunk = '';
  }
}
file.end(chunk);
