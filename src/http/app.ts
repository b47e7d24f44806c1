import uWS from 'uWebSockets.js';
import type { Handler, RouteOptions } from './route';
import type { RouteMeter } from '../metrics/meters';
import { route } from './route';
import { closeAsked, errorOf, methodNotAllowed, send, type Reply } from './reply';
import type { HttpMeters } from '../metrics/http';

export type Method = 'get' | 'post' | 'patch' | 'del';
export type RouteTable = [Method, string, Handler, RouteOptions?][];

export const methodNames: Record<Method, string> = { get: 'GET', post: 'POST', patch: 'PATCH', del: 'DELETE' };
const NOT_FOUND = errorOf('not_found');

/**
 * Builds the uWS app from the route table (src/worker.ts holds it, on one screen). Every GET route
 * also answers HEAD (RFC 9110 requires it of a general-purpose server, and monitors and load
 * balancers use it). A known path with another method is a 405 naming the allowed ones; anything
 * else is a 404.
 */
export function createApp(table: RouteTable, maxBodyBytes: number, meters?: HttpMeters): uWS.TemplatedApp {
  const app = uWS.App();
  const allowed = new Map<string, string[]>();
  for (const [method, path, handler, options] of table) {
    app[method](path, route(handler, options ?? {}, maxBodyBytes, meters?.forRoute(methodNames[method], path)));
    const methods = [...(allowed.get(path) ?? []), methodNames[method]];
    if (method === 'get') {
      app.head(path, route(handler, { ...options, head: true }, maxBodyBytes, meters?.forRoute('HEAD', path)));
      methods.push('HEAD');
    }
    allowed.set(path, methods);
  }
  for (const [path, methods] of allowed) {
    app.any(path, answerWith(methodNotAllowed(methods), meters?.forRoute('OTHER', path)));
  }
  app.any('/*', answerWith(NOT_FOUND, meters?.forRoute('ANY', '(unmatched)')));
  return app;
}

/** A fixed answer (404, 405), counted like every other; nothing is awaited, so no abort handler. */
function answerWith(reply: Reply, meter: RouteMeter | undefined) {
  return (res: uWS.HttpResponse, req: uWS.HttpRequest): void => {
    const started = performance.now();
    // A body after HEAD would be read as the next response.
    send(res, reply, req.getMethod() === 'head', closeAsked(req.getHeader('connection')));
    meter?.record(reply.status, (performance.now() - started) / 1000);
  };
}
