import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { AppError, toAppError } from '../errors';
import { isDebugLogged, log } from '../log';
import type { RouteMeter } from '../metrics/meters';
import { discardBody, mediaTypeRefusal, parseJson, readBody } from './body';
import { closeAsked, errorReply, send, type CloseAsked, type Reply } from './reply';

/** What a handler may know of a request: copied out of uWS before the first await. */
export interface Request {
  method: string;
  url: string;
  query: string;
  params: string[];
  headers: { authorization: string; cancelToken: string; origin: string }; // origin: '' unless the route is admin
  json: unknown; // the parsed body, for routes that take one
  client: { readonly aborted: boolean }; // aborted once the client has closed the connection
}

export type Handler = (request: Request) => Reply | Promise<Reply>;

export interface RouteOptions {
  params?: number; // how many path parameters to copy
  body?: boolean; // read and parse a JSON body
  head?: boolean; // answer a HEAD: GET's answer without its body
  admin?: boolean; // changes rooms or users: copy the Origin header, which Access.requireAdmin checks
}

/** Requests being answered by this worker: graceful shutdown waits for it to reach zero. */
export const inFlight = { count: 0 };

/** Set when this worker begins a graceful stop: requests still arriving on open connections are refused. */
export const draining = { active: false };

/**
 * Wraps a handler in the uWS discipline: abort handler first, request data copied now, the
 * answer written only if the client is still there, every error through the catalogue.
 */
export function route(handler: Handler, options: RouteOptions, maxBodyBytes: number, meter?: RouteMeter) {
  const paramCount = options.params ?? 0;
  const head = options.head === true;
  const admin = options.admin === true;
  return (res: HttpResponse, req: HttpRequest): void => {
    const state: RequestState = { aborted: false, counted: true, readingBody: false, started: performance.now(), meter,
      close: closeAsked(req.getHeader('connection')) };
    res.onAborted(() => {
      state.aborted = true;
      // Nobody waits for this answer now; a body that never arrives would otherwise stay counted forever.
      release(state);
      // Nor is it ever answered (readBody never settles): its 499 is metered now, and only now.
      if (state.readingBody) meterOnce(state, request, 499);
    });
    const params: string[] = [];
    for (let i = 0; i < paramCount; i++) params.push(req.getParameter(i) ?? '');
    const request: Request = {
      method: req.getCaseSensitiveMethod(),
      url: req.getUrl(),
      query: req.getQuery() ?? '',
      params,
      headers: { authorization: req.getHeader('authorization'), cancelToken: req.getHeader('x-cancel-token'),
        origin: admin ? req.getHeader('origin') : '' },
      json: undefined,
      client: state,
    };
    inFlight.count++;
    let answer: Promise<Reply>;
    if (draining.active) {
      answer = Promise.reject(new AppError('shutting_down'));
    } else if (options.body) {
      const refusal = mediaTypeRefusal(req.getHeader('content-type'), req.getHeader('content-encoding'),
        req.getHeader('transfer-encoding'));
      const declared = req.getHeader('content-length');
      const declaredLength = /^\d{1,15}$/.test(declared) ? Number(declared) : undefined;
      state.readingBody = true;
      if (refusal !== undefined) {
        // Answered once the body has come, as a 413 is (src/http/body.ts, DISCARDED_AT_MOST).
        const refused = new AppError('unsupported_media_type', refusal);
        answer = discardBody(res, declaredLength).then(() => Promise.reject(refused));
      } else {
        answer = readBody(res, declaredLength, maxBodyBytes).then((body) => {
          state.readingBody = false;
          request.json = parseJson(body);
          return handler(request);
        });
      }
    } else {
      answer = Promise.resolve().then(() => handler(request));
    }
    answer.then(
      (reply) => finish(res, state, reply, request, head),
      (error) => finish(res, state, failureReply(error, request, options.body === true), request, head),
    );
  };
}

interface RequestState {
  aborted: boolean;
  counted: boolean; // still in inFlight
  readingBody: boolean; // its body is being read: an abort now leaves the answer unsettled
  started: number; // performance.now() at arrival
  meter: RouteMeter | undefined;
  close: CloseAsked; // what the request's Connection header asked
}

/** Counts a request out of inFlight once, whether it was answered or aborted first. */
function release(state: RequestState): void {
  if (!state.counted) return;
  state.counted = false;
  inFlight.count--;
}

function finish(res: HttpResponse, state: RequestState, reply: Reply, request: Request, head: boolean): void {
  release(state);
  state.readingBody = false;
  if (!state.aborted) send(res, reply, head, state.close);
  // 499 (nginx's "client closed request"): no answer went out. Metering costs an array index.
  meterOnce(state, request, state.aborted ? 499 : reply.status);
}

/** Meters a request's answer (its status and latency), once: the meter is dropped after. */
function meterOnce(state: RequestState, request: Request, status: number): void {
  const seconds = (performance.now() - state.started) / 1000;
  state.meter?.record(status, seconds);
  state.meter = undefined;
  if (isDebugLogged()) log.debug('request', { method: request.method, url: request.url, status, ms: seconds * 1000 });
}

function failureReply(error: unknown, request: Request, hadBody: boolean): Reply {
  const appError = toAppError(error);
  if (appError.code === 'internal') noteInternal(error, request);
  if (appError.code === 'db_unavailable') noteUnavailable(error, request);
  // A refused body was read to its end only up to 16 MiB (src/http/body.ts): the connection closes after the answer.
  // A stopping worker closes each connection as it answers, so clients reconnect to another worker.
  const closeConnection = appError.code === 'shutting_down'
    || (hadBody && (appError.code === 'body_too_large' || appError.code === 'unsupported_media_type'));
  return { ...errorReply(appError), closeConnection };
}

const LOG_EVERY_MS = 10_000;

/**
 * A log line for a kind of failure at most once every 10 s per worker, with the number of such
 * failures since its previous line: a failure that lasts, under load, must not become a line per
 * request (a log that grows by megabytes a second fills the disk the database needs).
 */
function throttledLog(write: (error: unknown, request: Request, since: number) => void) {
  let loggedAt = -Infinity;
  let since = 0;
  return (error: unknown, request: Request): void => {
    since++;
    const now = performance.now();
    if (now - loggedAt < LOG_EVERY_MS) return;
    write(error, request, since);
    loggedAt = now;
    since = 0;
  };
}

/** A 500: a bug or a database error nobody foresaw; the operator gets the error itself. */
const noteInternal = throttledLog((error, request, since) =>
  log.error('request failed', { error, method: request.method, url: request.url, answered500: since }));

/**
 * A 503 db_unavailable says nothing of its cause to the client; the operator gets it here ("too
 * many clients", a timeout, a refused connection, a read-only server).
 */
const noteUnavailable = throttledLog((error, request, since) => {
  const { code, message } = error as { code?: unknown; message?: unknown };
  log.warn('answering 503: the database cannot serve', { code, cause: message, method: request.method, url: request.url,
    answered503: since });
});
