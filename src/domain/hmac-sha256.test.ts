import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { HmacSha256 } from './hmac-sha256.js';
import { seededRandom } from './seeded-random.js';

const reference = (key: string | Buffer, message: string): string =>
  createHmac('sha256', key).update(message, 'utf8').digest('hex');

describe('HmacSha256', () => {
  it('matches RFC 4231 test case 2', () => {
    assert.equal(
      new HmacSha256('Jefe').digest('what do ya want for nothing?').toString('hex'),
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('matches node:crypto for every message length across several blocks', () => {
    const hmac = new HmacSha256('e2e-test-secret-0123456789abcdef');
    let message = '';
    for (let length = 0; length <= 200; length++) {
      assert.equal(
        hmac.digest(message).toString('hex'),
        reference('e2e-test-secret-0123456789abcdef', message),
      );
      message += String.fromCharCode(32 + (length % 95));
    }
  });

  it('matches node:crypto for random keys (short, block-sized, longer than a block) and messages', () => {
    const random = seededRandom(42);
    for (let i = 0; i < 500; i++) {
      const key = randomBytes(Math.floor(random() * 150));
      const hmac = new HmacSha256(key);
      for (let j = 0; j < 4; j++) {
        const length = Math.floor(random() * 140);
        const message = Array.from({ length }, () => String.fromCharCode(Math.floor(random() * 128))).join(
          '',
        );
        assert.equal(
          hmac.digest(message).toString('hex'),
          reference(key, message),
          `key ${key.length} B, msg ${length}`,
        );
      }
    }
  });

  it('hashes the UTF-8 of messages that are not ASCII', () => {
    const hmac = new HmacSha256('k');
    for (const message of ['é', 'imp_ü_12345', '\u00ff'.repeat(70), '日本語', '😀x'])
      assert.equal(hmac.digest(message).toString('hex'), reference('k', message));
  });

  it('writes at an offset and gives the same answer when reused', () => {
    const hmac = new HmacSha256(randomBytes(32));
    const out = Buffer.alloc(40, 0xaa);
    hmac.digestInto('7.imp_abcdefgh.1795000000', out, 4);
    hmac.digestInto('something else entirely, twice as long as the first one was', Buffer.alloc(32));
    assert.deepEqual(out.subarray(4, 36), hmac.digest('7.imp_abcdefgh.1795000000'));
    assert.equal(out[3], 0xaa);
    assert.equal(out[36], 0xaa);
  });
});
