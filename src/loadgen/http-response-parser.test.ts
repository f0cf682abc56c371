import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MALFORMED, NEED_MORE, ResponseParser } from './http-response-parser.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Feeds the chunks in order; returns the parser and what the last execute returned. */
function feed(chunks: Buffer[], noBody = false): { parser: ResponseParser; result: number } {
  const parser = new ResponseParser();
  parser.reset(noBody);
  let result = NEED_MORE;
  for (const chunk of chunks) {
    assert.equal(result, NEED_MORE, 'a chunk after the response was complete');
    result = parser.execute(chunk, 0);
  }
  return { parser, result };
}

/** Every way of cutting `text` in two, plus one byte per chunk. */
function splits(text: string): Buffer[][] {
  const all = b(text);
  const out: Buffer[][] = [];
  for (let i = 1; i < all.length; i++) out.push([all.subarray(0, i), all.subarray(i)]);
  out.push([...all].map((byte) => Buffer.from([byte])));
  return out;
}

const LENGTH_RESPONSE =
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world';
const CHUNKED_RESPONSE =
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
  '5;name=value\r\nhello\r\n' +
  'B\r\n, chunked!!\r\n' +
  '0\r\nX-Trailer: yes\r\n\r\n';

describe('ResponseParser', () => {
  it('parses a Content-Length body however the bytes are split', () => {
    for (const chunks of splits(LENGTH_RESPONSE)) {
      const { parser, result } = feed(chunks);
      assert.equal(result, chunks.at(-1)!.length, `split ${chunks[0]!.length}`);
      assert.equal(parser.status, 200);
      assert.equal(parser.body.toString(), 'hello world');
      assert.equal(parser.keepAlive, true);
    }
  });

  it('parses a chunked body with extensions and trailers however the bytes are split', () => {
    for (const chunks of splits(CHUNKED_RESPONSE)) {
      const { parser, result } = feed(chunks);
      assert.equal(result, chunks.at(-1)!.length, `split ${chunks[0]!.length}`);
      assert.equal(parser.body.toString(), 'hello, chunked!!');
    }
  });

  it('reads Location, matching header names in any case', () => {
    const { parser, result } = feed([
      b('HTTP/1.1 302 Found\r\nLOCATION:  https://example.com/a?b=c  \r\ncontent-LENGTH: 0\r\n\r\n'),
    ]);
    assert.ok(result > 0);
    assert.equal(parser.status, 302);
    assert.equal(parser.location, 'https://example.com/a?b=c');
    assert.equal(parser.body.length, 0);
  });

  it('leaves location undefined when there is none', () => {
    const { parser } = feed([b('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')]);
    assert.equal(parser.location, undefined);
  });

  it('says when the connection must close', () => {
    const cases: [string, boolean][] = [
      ['HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', false],
      ['HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n', true],
      ['HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n', false],
      ['HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n', true],
    ];
    for (const [text, keepAlive] of cases) assert.equal(feed([b(text)]).parser.keepAlive, keepAlive, text);
  });

  it('reads a body without length or chunking until the peer closes', () => {
    const { parser, result } = feed([b('HTTP/1.1 200 OK\r\n\r\nsome'), b(' bytes')]);
    assert.equal(result, NEED_MORE);
    assert.equal(parser.keepAlive, false);
    assert.equal(parser.finishAtClose(), true);
    assert.equal(parser.body.toString(), 'some bytes');
  });

  it('is not complete at close when a Content-Length body is short', () => {
    const { parser, result } = feed([b('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort')]);
    assert.equal(result, NEED_MORE);
    assert.equal(parser.started, true);
    assert.equal(parser.finishAtClose(), false);
  });

  it('expects no body for HEAD, 204 and 304', () => {
    const headText = 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n';
    assert.equal(feed([b(headText)], true).result, headText.length);
    assert.equal(feed([b(headText)], false).result, NEED_MORE);
    for (const status of ['204 No Content', '304 Not Modified']) {
      const text = `HTTP/1.1 ${status}\r\nContent-Length: 5\r\n\r\n`;
      assert.equal(feed([b(text)]).result, text.length, status);
    }
  });

  it('skips an interim 100 Continue in the same read', () => {
    const text = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok';
    const { parser, result } = feed([b(text)]);
    assert.equal(result, text.length);
    assert.equal(parser.status, 201);
    assert.equal(parser.body.toString(), 'ok');
  });

  it('stops at the end of a response when a read holds two', () => {
    const two = b(`${LENGTH_RESPONSE}HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nx`);
    const { parser, result } = feed([two]);
    assert.equal(result, LENGTH_RESPONSE.length);
    parser.reset(false);
    assert.equal(parser.execute(two, result), two.length);
    assert.equal(parser.status, 404);
    assert.equal(parser.body.toString(), 'x');
  });

  it('copies the body out of the buffers it is fed', () => {
    const chunk = b(LENGTH_RESPONSE);
    const { parser } = feed([chunk]);
    chunk.fill(0);
    assert.equal(parser.body.toString(), 'hello world');
  });

  it('rejects malformed responses, saying why', () => {
    const cases: [string, RegExp][] = [
      ['HTTP/2 200 OK\r\n\r\n', /status line/],
      ['HTTP/1.1 2x0 OK\r\n\r\n', /status code/],
      ['HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n', /content-length/],
      ['HTTP/1.1 200 OK\r\nno colon here\r\n\r\n', /colon/],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /chunk size/],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n', /longer than its size/],
      ['HTTP/1.1 101 Switching Protocols\r\n\r\n', /101/],
    ];
    for (const [text, why] of cases) {
      const { parser, result } = feed([b(text)]);
      assert.equal(result, MALFORMED, text);
      assert.match(parser.error, why);
    }
  });

  it('gives up on a head that never ends', () => {
    const parser = new ResponseParser();
    parser.reset(false);
    assert.equal(parser.execute(b('HTTP/1.1 200 OK\r\n'), 0), NEED_MORE);
    const filler = b(`X-Filler: ${'a'.repeat(1000)}\r\n`);
    let result = NEED_MORE;
    for (let i = 0; i < 100 && result === NEED_MORE; i++) result = parser.execute(filler, 0);
    assert.equal(result, MALFORMED);
    assert.match(parser.error, /head longer/);
  });
});
