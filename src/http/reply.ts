import type { HttpResponse } from 'uWebSockets.js';
import { AppError, catalogue, statusOf, type ErrorCode } from '../errors';

/**
 * Every response goes out here, in one corked write. Status lines and the bodies of errors with
 * their default message are built once, at load.
 */
const statusLines: Record<number, string> = {
  200: '200 OK', 201: '201 Created', 204: '204 No Content', 400: '400 Bad Request', 401: '401 Unauthorized',
  403: '403 Forbidden', 404: '404 Not Found', 405: '405 Method Not Allowed', 409: '409 Conflict',
  413: '413 Payload Too Large', 415: '415 Unsupported Media Type', 500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

const JSON_TYPE = 'application/json';

/**
 * `{"error":"<code>","message":` per code, built once: a body serialises only its message, which
 * costs about half of serialising the whole object (the 409s of the original script each name their
 * day). The bodies with the default message are built from it once too.
 */
const errorBodyPrefixes = new Map<string, string>(
  Object.keys(catalogue).map((code) => [code, `{"error":${JSON.stringify(code)},"message":`]),
);

const errorBody = (code: ErrorCode, message: string): string => `${errorBodyPrefixes.get(code)!}${JSON.stringify(message)}}`;

const defaultErrorBodies = new Map<string, string>(
  (Object.keys(catalogue) as ErrorCode[]).map((code) => [code, errorBody(code, catalogue[code][1])]),
);

export interface Reply {
  status: number;
  body?: unknown; // JSON-serialised; absent for 204
  headers?: Record<string, string>;
  closeConnection?: boolean;
  contentType?: string; // default application/json; a PreSerialised body is sent as it is
}

/** Sent with the 503s that a client should simply retry. */
const RETRY_SOON: Readonly<Record<string, string>> = Object.freeze({ 'Retry-After': '1' });

/**
 * Headers some errors carry: when to retry; with a 401, the scheme to authenticate with, which RFC
 * 9110 (11.6.1) requires of every 401; with a 415, the content codings accepted (15.5.16).
 */
export const errorHeaders: Partial<Record<ErrorCode, Readonly<Record<string, string>>>> = {
  db_unavailable: RETRY_SOON,
  not_ready: RETRY_SOON,
  unauthorized: Object.freeze({ 'WWW-Authenticate': 'Bearer realm="roombook"' }),
  unsupported_media_type: Object.freeze({ 'Accept-Encoding': 'identity' }),
};

export const errorReply = (error: AppError): Reply => errorOf(error.code, error.message);

/**
 * The answer for an error code, built without an Error object: the refusals returned rather than
 * thrown (already booked, date in the past; src/domain/booking.ts) are the commonest answers under
 * load, and constructing an Error costs even without its stack (1.6 % of a worker's CPU samples
 * under the one-slot load, perf).
 */
export function errorOf(code: ErrorCode, message: string = catalogue[code][1]): Reply {
  const body = message === catalogue[code][1] ? defaultErrorBodies.get(code)! : errorBody(code, message);
  return { status: statusOf(code), body: new PreSerialised(body), headers: errorHeaders[code] };
}

/**
 * The 405 for a known path asked with another method: the methods it answers, in the message and in
 * `Allow` (RFC 9110, 15.5.6). The API port (src/http/app.ts) and the metrics port
 * (src/metrics/primary.ts) both answer it.
 */
export function methodNotAllowed(methods: readonly string[]): Reply {
  const reply = errorOf('method_not_allowed', `Use ${methods.join(' or ')} on this path.`);
  return { ...reply, headers: { ...reply.headers, Allow: methods.join(', ') } };
}

/** The text of a reply's body (which is not absent). */
export function bodyText(reply: Reply): string {
  return reply.body instanceof PreSerialised ? reply.body.text : JSON.stringify(reply.body);
}

/** A body that is already JSON text (prebuilt constants). */
export class PreSerialised {
  constructor(readonly text: string) {}
}

const CLOSE_OPTION = /(?:^|,)\s*close\s*(?:,|$)/i;

/**
 * What a request's Connection header asks of the connection: to close it, with "close" as the whole
 * value (which uWS recognises, case aside) or among other options (which uWS does not see).
 */
export type CloseAsked = 'no' | 'whole' | 'listed';

export function closeAsked(connection: string): CloseAsked {
  if (connection === '' || !CLOSE_OPTION.test(connection)) return 'no';
  return connection.trim().toLowerCase() === 'close' ? 'whole' : 'listed';
}

/**
 * Writes the reply; the caller has checked that the request was not aborted. `head`: the answer to
 * a HEAD, which has the headers GET would send, Content-Length included, and no body (RFC 9110, 9.3.2).
 * `close`: what the request asked (closeAsked). uWS closes the connection after answering a request
 * whose whole Connection value is "close", but does not say so, and clients such as wrk then count
 * the close as an error: the answer says it (RFC 9112, 9.6). "close" among other options, uWS does
 * not see: such an answer closes the connection as one that closes by itself (uWS says so then).
 */
export function send(res: HttpResponse, reply: Reply, head: boolean, close: CloseAsked): void {
  res.cork(() => {
    res.writeStatus(statusLines[reply.status] ?? String(reply.status));
    if (reply.headers) for (const name in reply.headers) res.writeHeader(name, reply.headers[name]);
    if (close === 'whole') res.writeHeader('Connection', 'close');
    const closing = reply.closeConnection === true || close === 'listed';
    if (reply.body === undefined) {
      // uWS writes no Content-Length only when given no length (a 204 must carry none, RFC 9110,
      // 8.6), and then cannot close the connection: an answer that closes it says 0.
      if (closing) res.endWithoutBody(0, true);
      else res.endWithoutBody();
      return;
    }
    res.writeHeader('Content-Type', reply.contentType ?? JSON_TYPE);
    const text = bodyText(reply);
    if (!head) {
      res.end(text, closing);
      return;
    }
    // uWS 20.30's endWithoutBody(length) waits for the body it announced, so the length goes in as a
    // header; uWS cannot then close the connection itself, so a HEAD answer that should close it (a
    // stopping worker's, or "close" among other options) leaves it open.
    res.writeHeader('Content-Length', String(Buffer.byteLength(text)));
    res.endWithoutBody();
  });
}
