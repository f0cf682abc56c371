import { createHash, createHmac } from 'node:crypto';

/*
 * HMAC-SHA256 of short messages with one fixed key, in plain JS.
 *
 * Why not node:crypto: every createHmac, createHash or crypto.hash call
 * builds a native OpenSSL 3 context, 3.3-3.5 us per token on this machine
 * (createHmac with a KeyObject, or Hash.copy() of precomputed pad states, is
 * no cheaper), while the SHA-256 compressions a token needs take less than
 * half of that in JS. The key's inner and outer pad states are computed once,
 * so a message of up to 55 bytes (a token's is 29-87) costs one compression,
 * plus one per further 64 bytes, and the outer hash one more; nothing is
 * allocated. SHA-256 has no data-dependent branches or table lookups: the time
 * depends on the message's length only. Tests check it against createHmac for
 * random keys and messages of every length up to several blocks.
 */

const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);
const INITIAL = Int32Array.from([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);
const BLOCK = 64;
const NOT_ASCII = /[\u0080-\uffff]/;

/** One SHA-256 compression of the 16 words in w[0..15] into `state`; w is used as the schedule. */
function compress(state: Int32Array, w: Int32Array): void {
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15]!;
    const y = w[i - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
  }
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let e = state[4]!;
  let f = state[5]!;
  let g = state[6]!;
  let h = state[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
  state[5] = (state[5]! + f) | 0;
  state[6] = (state[6]! + g) | 0;
  state[7] = (state[7]! + h) | 0;
}

/** The state after compressing one 64-byte block from the initial state. */
function stateAfterBlock(block: Buffer, w: Int32Array): Int32Array {
  const state = Int32Array.from(INITIAL);
  for (let i = 0; i < 16; i++) w[i] = block.readInt32BE(i * 4);
  compress(state, w);
  return state;
}

/** HMAC-SHA256 with one key, of a string's UTF-8 bytes. */
export class HmacSha256 {
  readonly #key: Buffer;
  readonly #inner: Int32Array;
  readonly #outer: Int32Array;
  readonly #state = new Int32Array(8);
  readonly #w = new Int32Array(64);

  constructor(key: string | Buffer) {
    this.#key = typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key);
    let block = this.#key;
    if (block.length > BLOCK) block = createHash('sha256').update(block).digest();
    const padded = Buffer.alloc(BLOCK);
    block.copy(padded);
    this.#inner = stateAfterBlock(Buffer.from(padded.map((byte) => byte ^ 0x36)), this.#w);
    this.#outer = stateAfterBlock(Buffer.from(padded.map((byte) => byte ^ 0x5c)), this.#w);
  }

  /** Writes HMAC(key, UTF-8 of message) into out[offset..offset+32]. */
  digestInto(message: string, out: Buffer, offset = 0): void {
    // The JS path reads one byte per character, which is the UTF-8 of ASCII only (tokens are ASCII).
    if (NOT_ASCII.test(message)) {
      createHmac('sha256', this.#key).update(message, 'utf8').digest().copy(out, offset);
      return;
    }
    const state = this.#state;
    const w = this.#w;
    state.set(this.#inner);
    const length = message.length;
    // Blocks of message, then 0x80, zeros, and the bit length of key block + message (big endian).
    const blocks = Math.ceil((length + 9) / BLOCK);
    for (let block = 0; block < blocks; block++) {
      const base = block * BLOCK;
      for (let word = 0; word < 16; word++) {
        let value = 0;
        for (let byte = 0; byte < 4; byte++) {
          const at = base + word * 4 + byte;
          const code = at < length ? message.charCodeAt(at) : at === length ? 0x80 : 0;
          value = (value << 8) | code;
        }
        w[word] = value;
      }
      if (block === blocks - 1) {
        w[14] = 0; // lengths here stay far below 2^32 bits
        w[15] = (BLOCK + length) * 8;
      }
      compress(state, w);
    }
    for (let i = 0; i < 8; i++) w[i] = state[i]!;
    w[8] = 0x80000000 | 0;
    for (let i = 9; i < 15; i++) w[i] = 0;
    w[15] = (BLOCK + 32) * 8;
    state.set(this.#outer);
    compress(state, w);
    for (let i = 0; i < 8; i++) out.writeInt32BE(state[i]!, offset + i * 4);
  }

  /** HMAC(key, message) as a new 32-byte buffer. */
  digest(message: string): Buffer {
    const out = Buffer.allocUnsafe(32);
    this.digestInto(message, out);
    return out;
  }
}
