import uWS from 'uWebSockets.js';
import type { Handler, RouteOptions } from './route';
import { route } from './route';
import { errorOf, send, type Reply } from './reply';

type Method = 'get' | 'post' | 'patch' | 'del';
export type RouteTable = [Method, string, Handler, RouteOptions?][];

const methodNames: Record<Method, string> = { get: 'GET', post: 'POST', patch: 'PATCH', del: 'DELETE' };
const NOT_FOUND = errorOf('not_found');

/**
 * Builds the uWS app from the route table (src/worker.ts holds it, on one screen). A known path
 * with another method is a 405 naming the allowed ones; anything else is a 404.
 */
export function createApp(table: RouteTable, maxBodyBytes: number): uWS.TemplatedApp {
  const app = uWS.App();
  const allowed = new Map<string, string[]>();
  for (const [method, path, handler, options] of table) {
    app[method](path, route(handler, options ?? {}, maxBodyBytes));
    allowed.set(path, [...(allowed.get(path) ?? []), methodNames[method]]);
  }
  for (const [path, methods] of allowed) {
    const reply: Reply = { ...errorOf('method_not_allowed', `Use ${methods.join(' or ')} on this path.`) };
    reply.headers = { ...reply.headers, Allow: methods.join(', ') };
    app.any(path, (res) => send(res, reply));
  }
  app.any('/*', (res) => send(res, NOT_FOUND));
  return app;
}
