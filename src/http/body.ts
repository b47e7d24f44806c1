import type { HttpResponse } from 'uWebSockets.js';
import { AppError } from '../errors';

/**
 * Reads a request body as UTF-8 text, refusing more than `limit` bytes. A body that comes in one
 * chunk (nearly all of them) is decoded at once; a longer one is gathered into one buffer sized
 * up front (from Content-Length when given) and decoded at the end, so a character split between
 * chunks stays whole. Chunks are copied or decoded before the callback returns (uWS reuses them).
 * Resolves on the last chunk; rejects with body_too_large, and never settles if the request is
 * aborted (the caller's abort flag covers that case).
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
        resolve(Buffer.from(chunk).toString('utf8'));
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
      if (isLast) resolve(buffer.toString('utf8', 0, length));
    });
  });
}

/** The body as JSON; anything unparsable is invalid_json. */
export function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    throw new AppError('invalid_json', 'The request body is not valid JSON.');
  }
}
