/**
 * An incremental HTTP/1.1 response parser for the load client: the status,
 * the four headers a load generator acts on (Content-Length,
 * Transfer-Encoding, Connection, Location) and the body. Pure, no I/O, so
 * every split of a response across reads is tested without a socket.
 *
 * Cheap by design: one indexOf for the end of the head, a byte compare per
 * header name, and a string only for the header values it keeps.
 */

/** `execute` needs more bytes to finish the response. */
export const NEED_MORE = -1;
/** `execute` met bytes that are not a valid response; `error` says why. */
export const MALFORMED = -2;

const MAX_HEAD_BYTES = 64 * 1024;
const MAX_CHUNK_SIZE = 2 ** 40;
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const EMPTY = Buffer.alloc(0);
const CR = 0x0d;
const LF = 0x0a;

const HTTP_1 = Buffer.from('HTTP/1.', 'latin1');
const CONTENT_LENGTH = Buffer.from('content-length', 'latin1');
const TRANSFER_ENCODING = Buffer.from('transfer-encoding', 'latin1');
const CONNECTION = Buffer.from('connection', 'latin1');
const LOCATION = Buffer.from('location', 'latin1');

const HEAD = 0;
const BODY_LENGTH = 1;
const CHUNK_SIZE = 2;
const CHUNK_EXTENSION = 3;
const CHUNK_SIZE_LF = 4;
const CHUNK_DATA = 5;
const CHUNK_DATA_CR = 6;
const CHUNK_DATA_LF = 7;
const TRAILERS = 8;
const BODY_UNTIL_CLOSE = 9;
const DONE = 10;

export class ResponseParser {
  status = 0;
  /** The Location header, when the response had one. */
  location: string | undefined = undefined;
  /** False when the connection must be closed after this response. */
  keepAlive = true;
  /** The body, a copy: it never shares memory with the buffers fed in. */
  body: Buffer = EMPTY;
  /** Why `execute` returned MALFORMED. */
  error = '';

  private state = HEAD;
  private noBody = false;
  private headPart: Buffer | null = null;
  private remaining = 0;
  private chunkDigits = 0;
  private trailerLineLength = 0;
  private readonly pieces: Buffer[] = [];

  /** Starts a new response; `noBody` for the answer to a HEAD request. */
  reset(noBody: boolean): void {
    this.status = 0;
    this.location = undefined;
    this.keepAlive = true;
    this.body = EMPTY;
    this.error = '';
    this.state = HEAD;
    this.noBody = noBody;
    this.headPart = null;
    this.pieces.length = 0;
  }

  /** True once any byte of the response has been consumed. */
  get started(): boolean {
    return this.state !== HEAD || this.headPart !== null;
  }

  /**
   * Consumes `chunk` from `offset`. Returns the offset just past the end of
   * the response once it is complete (bytes after it belong to someone
   * else), NEED_MORE when every byte was consumed and more are needed, or
   * MALFORMED.
   */
  execute(chunk: Buffer, offset: number): number {
    let off = offset;
    while (this.state !== DONE) {
      if (off >= chunk.length) return NEED_MORE;
      switch (this.state) {
        case HEAD:
          off = this.readHead(chunk, off);
          if (off < 0) return off;
          break;
        case BODY_LENGTH:
        case CHUNK_DATA: {
          const take = Math.min(this.remaining, chunk.length - off);
          this.pieces.push(Buffer.from(chunk.subarray(off, off + take)));
          off += take;
          this.remaining -= take;
          if (this.remaining === 0) {
            if (this.state === BODY_LENGTH) this.finishBody();
            else this.state = CHUNK_DATA_CR;
          }
          break;
        }
        case BODY_UNTIL_CLOSE:
          this.pieces.push(Buffer.from(chunk.subarray(off)));
          return NEED_MORE;
        default:
          off = this.readChunkFraming(chunk, off);
          if (off < 0) return off;
      }
    }
    return off;
  }

  /**
   * The peer closed the connection. Returns true when that completes the
   * response (a body delimited by the close, RFC 9112 section 6.3 rule 8).
   */
  finishAtClose(): boolean {
    if (this.state !== BODY_UNTIL_CLOSE) return this.state === DONE;
    this.finishBody();
    return true;
  }

  private fail(reason: string): number {
    this.error = reason;
    return MALFORMED;
  }

  private finishBody(): void {
    const p = this.pieces;
    this.body = p.length === 0 ? EMPTY : p.length === 1 ? p[0]! : Buffer.concat(p);
    p.length = 0;
    this.state = DONE;
  }

  private readHead(chunk: Buffer, off: number): number {
    const part = this.headPart;
    const buf = part === null ? chunk : Buffer.concat([part, chunk.subarray(off)]);
    const start = part === null ? off : 0;
    // The terminator may straddle the previous read: search from 3 bytes back.
    const end = buf.indexOf(CRLFCRLF, part === null ? off : Math.max(0, part.length - 3));
    if (end < 0) {
      if (buf.length - start > MAX_HEAD_BYTES) return this.fail(`head longer than ${MAX_HEAD_BYTES} bytes`);
      this.headPart = part === null ? Buffer.from(chunk.subarray(off)) : buf;
      return NEED_MORE;
    }
    this.headPart = null;
    const error = this.parseHead(buf, start, end);
    if (error !== undefined) return this.fail(error);
    return part === null ? end + 4 : off + end + 4 - part.length;
  }

  /** Parses the head in buf[start, end + 2), where buf[end] starts the blank line's CRLF. */
  private parseHead(buf: Buffer, start: number, end: number): string | undefined {
    // "HTTP/1.x NNN" (RFC 9112 section 4): fixed offsets, no split.
    const afterCode = buf[start + 12];
    if (end - start < 12 || !bytesAre(buf, start, HTTP_1) || buf[start + 8] !== 0x20)
      return 'bad status line';
    if (afterCode !== 0x20 && afterCode !== CR) return 'bad status line';
    const d1 = buf[start + 9]! - 48;
    const d2 = buf[start + 10]! - 48;
    const d3 = buf[start + 11]! - 48;
    if (d1 < 1 || d1 > 5 || d2 < 0 || d2 > 9 || d3 < 0 || d3 > 9) return 'bad status code';
    const status = d1 * 100 + d2 * 10 + d3;
    const http10 = buf[start + 7] === 0x30;

    let contentLength = -1;
    let transferEncoding: string | undefined;
    let close = false;
    let keepAlive = false;
    let location: string | undefined;
    let lineStart = buf.indexOf(LF, start) + 1;
    while (lineStart <= end) {
      const lineEnd = buf.indexOf(CR, lineStart);
      if (buf[lineEnd + 1] !== LF) return 'bare CR in head';
      const colon = buf.indexOf(0x3a, lineStart);
      if (colon < 0 || colon > lineEnd) return 'header line without a colon';
      let vs = colon + 1;
      let ve = lineEnd;
      while (vs < ve && (buf[vs] === 0x20 || buf[vs] === 0x09)) vs++;
      while (ve > vs && (buf[ve - 1] === 0x20 || buf[ve - 1] === 0x09)) ve--;
      const nameLength = colon - lineStart;
      if (nameLength === 14 && nameIs(buf, lineStart, CONTENT_LENGTH)) {
        contentLength = parseDecimal(buf, vs, ve);
        if (contentLength < 0) return 'bad content-length';
      } else if (nameLength === 17 && nameIs(buf, lineStart, TRANSFER_ENCODING)) {
        transferEncoding = buf.toString('latin1', vs, ve).toLowerCase();
      } else if (nameLength === 10 && nameIs(buf, lineStart, CONNECTION)) {
        const value = buf.toString('latin1', vs, ve).toLowerCase();
        if (value.includes('close')) close = true;
        if (value.includes('keep-alive')) keepAlive = true;
      } else if (nameLength === 8 && nameIs(buf, lineStart, LOCATION)) {
        location = buf.toString('latin1', vs, ve);
      }
      lineStart = lineEnd + 2;
    }

    if (status < 200) {
      // An interim response (100 Continue, 103 Early Hints): the final one follows.
      if (status === 101) return 'unexpected 101 Switching Protocols';
      return undefined;
    }
    this.status = status;
    this.location = location;
    this.keepAlive = http10 ? keepAlive && !close : !close;
    if (this.noBody || status === 204 || status === 304) {
      this.finishBody();
    } else if (transferEncoding !== undefined) {
      // Transfer-Encoding overrides Content-Length (RFC 9112 section 6.3
      // rule 3); a final coding other than chunked runs until the close.
      if (transferEncoding.endsWith('chunked')) {
        this.state = CHUNK_SIZE;
        this.remaining = 0;
        this.chunkDigits = 0;
      } else {
        this.startBodyUntilClose();
      }
    } else if (contentLength > 0) {
      this.state = BODY_LENGTH;
      this.remaining = contentLength;
    } else if (contentLength === 0) {
      this.finishBody();
    } else {
      this.startBodyUntilClose();
    }
    return undefined;
  }

  private startBodyUntilClose(): void {
    this.state = BODY_UNTIL_CLOSE;
    this.keepAlive = false;
  }

  /** Chunk-size lines, the CRLF after each chunk and the trailer section (RFC 9112 section 7.1). */
  private readChunkFraming(chunk: Buffer, offset: number): number {
    let off = offset;
    while (off < chunk.length) {
      const c = chunk[off++]!;
      switch (this.state) {
        case CHUNK_SIZE: {
          const digit = hexValue(c);
          if (digit >= 0) {
            this.remaining = this.remaining * 16 + digit;
            if (++this.chunkDigits > 10 || this.remaining > MAX_CHUNK_SIZE)
              return this.fail('chunk too large');
            continue;
          }
          if (this.chunkDigits === 0) return this.fail('bad chunk size');
          if (c === CR) this.state = CHUNK_SIZE_LF;
          else if (c === 0x3b || c === 0x20 || c === 0x09) this.state = CHUNK_EXTENSION;
          else return this.fail('bad chunk size');
          continue;
        }
        case CHUNK_EXTENSION:
          if (c === CR) this.state = CHUNK_SIZE_LF;
          continue;
        case CHUNK_SIZE_LF:
          if (c !== LF) return this.fail('bad chunk size line');
          if (this.remaining === 0) {
            this.state = TRAILERS;
            this.trailerLineLength = 0;
            continue;
          }
          this.state = CHUNK_DATA;
          return off;
        case CHUNK_DATA_CR:
          if (c !== CR) return this.fail('chunk data longer than its size');
          this.state = CHUNK_DATA_LF;
          continue;
        case CHUNK_DATA_LF:
          if (c !== LF) return this.fail('chunk data longer than its size');
          this.state = CHUNK_SIZE;
          this.chunkDigits = 0;
          continue;
        case TRAILERS:
          if (c === LF) {
            if (this.trailerLineLength === 0) {
              this.finishBody();
              return off;
            }
            this.trailerLineLength = 0;
          } else if (c !== CR) {
            this.trailerLineLength++;
          }
          continue;
      }
    }
    return off;
  }
}

/** Case-insensitive compare of buf at `at` with a lower-case name ('-' has bit 0x20 set too). */
function nameIs(buf: Buffer, at: number, lowerName: Buffer): boolean {
  for (let i = 0; i < lowerName.length; i++) {
    if ((buf[at + i]! | 0x20) !== lowerName[i]) return false;
  }
  return true;
}

function bytesAre(buf: Buffer, at: number, expected: Buffer): boolean {
  for (let i = 0; i < expected.length; i++) {
    if (buf[at + i] !== expected[i]) return false;
  }
  return true;
}

function parseDecimal(buf: Buffer, from: number, to: number): number {
  if (from === to || to - from > 15) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}
