import type { HttpResponse } from 'uWebSockets.js';
import { AppError } from '../errors';

/**
 * Reads a request body into one buffer sized up front (from Content-Length when given), copying
 * every chunk (uWS reuses them) and refusing more than `limit` bytes. Resolves on the last chunk;
 * rejects with body_too_large, and never settles if the request is aborted (the caller's abort
 * flag covers that case).
 */
export function readBody(res: HttpResponse, declaredLength: number | undefined, limit: number): Promise<Buffer> {
  if (declaredLength !== undefined && declaredLength > limit) {
    return Promise.reject(new AppError('body_too_large', `The request body is larger than ${limit} bytes.`));
  }
  return new Promise((resolve, reject) => {
    let buffer = Buffer.allocUnsafe(declaredLength ?? 1024);
    let length = 0;
    let failed = false;
    res.onData((chunk, isLast) => {
      if (failed) return;
      const bytes = new Uint8Array(chunk);
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
      if (isLast) resolve(buffer.subarray(0, length));
    });
  });
}

/** The body as JSON; anything unparsable is invalid_json. */
export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new AppError('invalid_json', 'The request body is not valid JSON.');
  }
}
