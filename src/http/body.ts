import { isUtf8 } from 'node:buffer';
import type { HttpResponse } from 'uWebSockets.js';
import { AppError } from '../errors';

const JSON_CONTENT_TYPE = /^application\/(?:[\w.+-]*\+)?json\s*(?:;|$)/i;
const IDENTITY = /^\s*identity\s*$/i;

/**
 * Why a body with these headers is refused unread (415), or undefined. No header means JSON. A
 * compressed body would otherwise be read as text and refused as invalid_json, which misleads.
 */
export function mediaTypeRefusal(contentType: string, contentEncoding: string): string | undefined {
  if (contentType !== '' && !JSON_CONTENT_TYPE.test(contentType)) {
    return `The request body must be application/json, not ${contentType.slice(0, 100)}.`;
  }
  if (contentEncoding !== '' && !IDENTITY.test(contentEncoding)) {
    return `The request body must be sent uncompressed, not with Content-Encoding ${contentEncoding.slice(0, 100)}.`;
  }
  return undefined;
}

/**
 * Reads a request body as UTF-8 text, refusing more than `limit` bytes, and bytes that are not
 * UTF-8 (invalid_json: RFC 8259 requires UTF-8, whatever charset a Content-Type names); decoding
 * them would turn each into U+FFFD, store names no client sent and make different names collide.
 * A body that comes in one chunk (nearly all of them) is decoded at once; a longer one is gathered
 * into one buffer sized up front (from Content-Length when given) and decoded at the end, so a
 * character split between chunks stays whole. Chunks are copied or decoded before the callback
 * returns (uWS reuses them). Resolves on the last chunk; rejects with body_too_large or
 * invalid_json, and never settles if the request is aborted (the caller's abort flag covers that).
 */
export function readBody(res: HttpResponse, declaredLength: number | undefined, limit: number): Promise<string> {
  if (declaredLength !== undefined && declaredLength > limit) {
    return Promise.reject(new AppError('body_too_large', `The request body is larger than ${limit} bytes.`));
  }
  return new Promise((resolve, reject) => {
    let buffer: Buffer | undefined;
    let length = 0;
    let failed = false;
    res.onData((chunk, isLast) => {
      if (failed) return;
      if (isLast && length === 0 && chunk.byteLength <= limit) {
        settle(Buffer.from(chunk), resolve, reject);
        return;
      }
      const bytes = new Uint8Array(chunk);
      buffer ??= Buffer.allocUnsafe(declaredLength ?? 1024);
      if (length + bytes.length > limit) {
        failed = true;
        reject(new AppError('body_too_large', `The request body is larger than ${limit} bytes.`));
        return;
      }
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
