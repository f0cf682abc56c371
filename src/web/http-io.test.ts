import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HttpError, utf8Text } from './http-io.js';

describe('utf8Text', () => {
  it('decodes valid UTF-8, multi-byte characters included', () => {
    assert.equal(utf8Text(Buffer.from('{"name":"Café ☕ 𝄞"}\n')), '{"name":"Café ☕ 𝄞"}\n');
    assert.equal(utf8Text(Buffer.alloc(0)), '');
  });

  const bad: [string, Buffer, number][] = [
    ['a lone continuation byte', Buffer.from([0x7b, 0x80, 0x7d]), 1],
    ['a truncated sequence', Buffer.from([0x22, 0xe2, 0x82, 0x22]), 1],
    ['an overlong encoding of "/"', Buffer.from([0xc0, 0xaf]), 1],
    ['a UTF-16 surrogate', Buffer.from([0xed, 0xa0, 0x80]), 1],
    ['a byte past U+10FFFF', Buffer.from([0xf4, 0x90, 0x80, 0x80]), 1],
    [
      'a Latin-1 byte on line 3',
      Buffer.concat([Buffer.from('{}\n{}\n{"a":"caf'), Buffer.from([0xe9, 0x22, 0x7d])]),
      3,
    ],
  ];
  for (const [name, body, line] of bad) {
    it(`answers 400 naming line ${line} for ${name}`, () => {
      assert.throws(
        () => utf8Text(body),
        (err: unknown) =>
          err instanceof HttpError &&
          err.status === 400 &&
          err.code === 'invalid_utf8' &&
          err.message === `body is not valid UTF-8 (line ${line})`,
      );
    });
  }
});
