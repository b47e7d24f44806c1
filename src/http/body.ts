import { isUtf8 } from 'node:buffer';
import type { HttpResponse } from 'uWebSockets.js';
import { AppError } from '../errors';

const JSON_CONTENT_TYPE = /^application\/(?:[\w.+-]*\+)?json\s*(?:;|$)/i;
const IDENTITY = /^\s*identity\s*$/i;
const CHUNKED = /^\s*chunked\s*$/i;

/**
 * Why a body with these headers is refused unread (415), or undefined. No header means JSON. A
 * compressed body would otherwise be read as text and refused as invalid_json, which misleads;
 * so would one with a transfer coding besides chunked, which uWS reads as chunked whatever the
 * Transfer-Encoding names (RFC 9112, 6.1, suggests 501; a client's input is answered 4xx here).
 */
export function mediaTypeRefusal(contentType: string, contentEncoding: string, transferEncoding: string): string | undefined {
  if (contentType !== '' && !JSON_CONTENT_TYPE.test(contentType)) {
    return `The request body must be application/json, not ${contentType.slice(0, 100)}.`;
  }
  if (contentEncoding !== '' && !IDENTITY.test(contentEncoding)) {
    return `The request body must be sent uncompressed, not with Content-Encoding ${contentEncoding.slice(0, 100)}.`;
  }
  if (transferEncoding !== '' && !CHUNKED.test(transferEncoding)) {
    return `The request body must be sent with no Transfer-Encoding but chunked, not with Transfer-Encoding ${transferEncoding.slice(0, 100)}.`;
  }
  return undefined;
}

/**
 * How much of a refused body (over the limit: 413; of the wrong type: 415) is still received, and
 * thrown away, before the answer goes out. The answer closes the connection, and a connection
 * closed with bytes of the body still unread is reset: a client still sending (fetch, for a
 * chunked body of 128 KiB) got EPIPE or ECONNRESET, never the answer. A body larger than this is
 * cut off at once, as before.
 */
const DISCARDED_AT_MOST = 16 * 1024 * 1024;

const tooLarge = (limit: number): AppError => new AppError('body_too_large', `The request body is larger than ${limit} bytes.`);

/**
 * Reads a request body as UTF-8 text, refusing more than `limit` bytes, and bytes that are not
 * UTF-8 (invalid_json: RFC 8259 requires UTF-8, whatever charset a Content-Type names); decoding
 * them would turn each into U+FFFD, store names no client sent and make different names collide.
 * A body that comes in one chunk (nearly all of them) is decoded at once; a longer one is gathered
 * into one buffer sized up front (from Content-Length when given) and decoded at the end, so a
 * character split between chunks stays whole. Chunks are copied or decoded before the callback
 * returns (uWS reuses them). Resolves on the last chunk; rejects with invalid_json, or with
 * body_too_large once the body has all come (up to DISCARDED_AT_MOST), and never settles if the
 * request is aborted (the caller's abort flag covers that).
 */
export function readBody(res: HttpResponse, declaredLength: number | undefined, limit: number): Promise<string> {
  if (declaredLength !== undefined && declaredLength > limit) {
    return discardBody(res, declaredLength).then(() => Promise.reject(tooLarge(limit)));
  }
  return new Promise((resolve, reject) => {
    let buffer: Buffer | undefined;
    let length = 0;
    let tooLong = false;
    let settled = false;
    res.onData((chunk, isLast) => {
      if (settled) return;
      if (isLast && length === 0 && chunk.byteLength <= limit) {
        settle(Buffer.from(chunk), resolve, reject);
        return;
      }
      tooLong ||= length + chunk.byteLength > limit;
      if (tooLong) {
        // Counted, not kept: the answer waits for the last byte, so closing after it resets nothing.
        length += chunk.byteLength;
        if (isLast || length > DISCARDED_AT_MOST) {
          settled = true;
          reject(tooLarge(limit));
        }
        return;
      }
      const bytes = new Uint8Array(chunk);
      buffer ??= Buffer.allocUnsafe(declaredLength ?? 1024);
      if (length + bytes.length > buffer.length) {
        const grown = Buffer.allocUnsafe(Math.min(limit, Math.max(buffer.length * 2, length + bytes.length)));
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
      buffer.set(bytes, length);
      length += bytes.length;
      if (isLast) settle(buffer.subarray(0, length), resolve, reject);
    });
  });
}

/**
 * Receives a body refused unread and drops it; resolves once it has all come, or, for one beyond
 * DISCARDED_AT_MOST, at once or as soon as that much has come (the answer then resets the
 * connection). Never settles if the request is aborted.
 */
export function discardBody(res: HttpResponse, declaredLength: number | undefined): Promise<void> {
  if (declaredLength !== undefined && declaredLength > DISCARDED_AT_MOST) return Promise.resolve();
  return new Promise((resolve) => {
    let received = 0;
    res.onData((chunk, isLast) => {
      received += chunk.byteLength;
      if (isLast || received > DISCARDED_AT_MOST) resolve();
    });
  });
}

function settle(bytes: Buffer, resolve: (text: string) => void, reject: (error: AppError) => void): void {
  if (isUtf8(bytes)) resolve(bytes.toString('utf8'));
  else reject(new AppError('invalid_json', 'The request body is not valid UTF-8, which JSON must be.'));
}

/** The body as JSON; anything unparsable is invalid_json. A leading byte order mark is ignored (RFC 8259, 8.1). */
export function parseJson(body: string): unknown {
  try {
    return JSON.parse(body.charCodeAt(0) === 0xfeff ? body.slice(1) : body);
  } catch {
    throw new AppError('invalid_json', 'The request body is not valid JSON.');
  }
}
