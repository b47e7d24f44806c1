import fs from 'node:fs';
import path from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { routeDocs, type RouteDoc } from '../../src/http/route-docs';
import { openApiPath } from '../../src/http/openapi';
import { createDatabase } from '../helpers/database';
import { startServer, type RunningServer } from '../helpers/server';
import { call, dayFromToday, shortForm } from '../helpers/http';

/**
 * GET /openapi.json against the server itself: every route it answers is in the document, and
 * requests that the document's schemas accept are accepted, those they refuse are refused with
 * a documented code; answers match the documented schemas.
 */
const ADMIN_TOKEN = 'openapi-test-admin-token';
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
let server: RunningServer;
let database: Awaited<ReturnType<typeof createDatabase>>;
let document: any;

const plain = (schema: TSchema): unknown => JSON.parse(JSON.stringify(schema));
const methodNames: Record<string, string> = { get: 'GET', post: 'POST', patch: 'PATCH', del: 'DELETE' };

/** The route table as src/worker.ts writes it: ['get', '/path', handler, ...]. */
function tableRoutes(): string[] {
  const source = fs.readFileSync(path.resolve(__dirname, '../../src/worker.ts'), 'utf8');
  return [...source.matchAll(/\[\s*'(get|post|patch|del)',\s*'([^']+)'/g)].map(([, method, route]) => `${methodNames[method]} ${route}`);
}

function operationOf(route: string): any {
  const [method, routePath] = route.split(' ');
  return document.paths[openApiPath(routePath)]?.[method.toLowerCase()];
}

beforeAll(async () => {
  database = await createDatabase();
  server = await startServer({ databaseUrl: database.url, env: { ADMIN_TOKEN } });
  document = (await call(server.url, 'GET', '/openapi.json')).body;
});
afterAll(async () => {
  await server?.stop();
  await database?.drop();
});

test('the document is OpenAPI 3.1, for this version of roombook', () => {
  expect(document.openapi).toBe('3.1.0');
  expect(document.info.version).toBe(JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')).version);
});

test('every route of the table is in the document, described, and nothing else is', () => {
  const routes = tableRoutes();
  expect(routes.length).toBeGreaterThanOrEqual(20);
  const documented = Object.entries(document.paths as Record<string, Record<string, any>>)
    .flatMap(([documentedPath, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${documentedPath}`));
  expect(documented.sort()).toEqual(routes.map((route) => `${route.split(' ')[0]} ${openApiPath(route.split(' ')[1])}`).sort());
  for (const route of routes) expect({ route, undocumented: operationOf(route)['x-undocumented'] }).toEqual({ route, undocumented: undefined });
});

test('the server answers each documented path with exactly the documented methods (and HEAD beside GET)', async () => {
  for (const [documentedPath, operations] of Object.entries(document.paths as Record<string, object>)) {
    const answer = await call(server.url, 'PUT', documentedPath.replace(/\{\w+\}/g, '1'));
    expect({ documentedPath, status: answer.status }).toEqual({ documentedPath, status: 405 });
    const allowed = answer.headers.get('allow')!.split(', ').sort();
    const documented = Object.keys(operations).map((m) => m.toUpperCase());
    if (documented.includes('GET')) documented.push('HEAD');
    expect({ documentedPath, allowed }).toEqual({ documentedPath, allowed: documented.sort() });
  }
});

test('the document\'s schemas are the TypeBox schemas that validate requests', () => {
  for (const [route, doc] of Object.entries(routeDocs)) {
    const operation = operationOf(route);
    if (doc.body) expect({ route, body: operation.requestBody.content['application/json'].schema }).toEqual({ route, body: plain(doc.body) });
    for (const [name, schema] of Object.entries(doc.query?.properties ?? {})) {
      const parameter = operation.parameters.find((p: { name: string; in: string }) => p.name === name && p.in === 'query');
      expect({ route, name, schema: parameter?.schema }).toEqual({ route, name, schema: plain(schema) });
    }
  }
});

/** One request, named by its route ("METHOD /path/:id") and the values it sends. */
interface Example {
  route: string;
  id?: () => number;
  query?: Record<string, string>;
  body?: unknown;
  headers?: Record<string, string>;
}

function request(example: Example) {
  const [method, routePath] = example.route.split(' ');
  const concrete = routePath.replace(':id', String(example.id?.() ?? ''));
  const query = example.query ? `?${new URLSearchParams(example.query)}` : '';
  return call(server.url, method, concrete + query, example.body, example.headers ?? admin);
}

/** Which parts of the example the route's schemas accept. */
function validity(doc: RouteDoc, example: Example): boolean[] {
  const results: boolean[] = [];
  if (doc.body) results.push(Value.Check(doc.body, example.body));
  if (doc.query) results.push(Value.Check(doc.query, Value.Convert(doc.query, { ...example.query })));
  if (doc.params?.id) results.push(Value.Check(doc.params.id, Value.Convert(doc.params.id, String(example.id?.()))));
  return results;
}

test('example requests valid against the document are accepted, and answered as documented', async () => {
  let roomId = 0;
  let userId = 0;
  let bookingId = 0;
  let cancelToken = '';
  const day = dayFromToday(5);
  const examples: (Example & { then?: (body: any) => void })[] = [
    { route: 'POST /rooms', body: { name: ' oa room ' }, then: (body) => (roomId = body.id) },
    { route: 'POST /users', body: { name: 'OA User' }, then: (body) => (userId = body.id) },
    { route: 'GET /rooms', query: { limit: '10', after: '0' } },
    { route: 'GET /users', query: { limit: '1' } },
    { route: 'GET /rooms/:id', id: () => roomId },
    { route: 'GET /users/:id', id: () => userId },
    { route: 'PATCH /rooms/:id', id: () => roomId, body: { name: 'oa room2' } },
    { route: 'PATCH /users/:id', id: () => userId, body: { name: 'oa user2' } },
    { route: 'POST /book', body: { room_name: 'oa room2', user_name: 'OA USER2', date: shortForm(day) } },
    { route: 'POST /bookings', body: { room_id: 0, user_name: 'oa user2', date: dayFromToday(6) } }, // fixed below
    { route: 'GET /bookings', query: { room_id: '1', from: day, to: dayFromToday(30), limit: '10' } },
    { route: 'GET /bookings/:id', id: () => bookingId },
    { route: 'GET /rooms/:id/availability', id: () => roomId, query: { from: day, to: dayFromToday(9) } },
    { route: 'DELETE /bookings/:id', id: () => bookingId, headers: {} }, // its own cancel token, set below
    { route: 'GET /health' },
    { route: 'GET /ready' },
    { route: 'GET /openapi.json' },
    { route: 'GET /docs' },
    { route: 'DELETE /rooms/:id', id: () => roomId, query: { cascade: 'true' } },
    { route: 'DELETE /users/:id', id: () => userId, query: { cascade: 'false' } }, // its bookings went with the room
  ];
  const covered = new Set<string>();
  for (const example of examples) {
    if (example.route === 'POST /bookings') example.body = { room_id: roomId, user_name: 'oa user2', date: dayFromToday(6) };
    if (example.route === 'GET /bookings') example.query!.room_id = String(roomId);
    if (example.route === 'DELETE /bookings/:id') example.headers = { 'x-cancel-token': cancelToken };
    const doc = routeDocs[example.route];
    expect({ route: example.route, valid: validity(doc, example).every(Boolean) }).toEqual({ route: example.route, valid: true });
    const answer = await request(example);
    expect({ route: example.route, status: answer.status, body: answer.body })
      .toEqual({ route: example.route, status: doc.success.status, body: answer.body });
    expect(Object.keys(operationOf(example.route).responses)).toContain(String(answer.status));
    if (doc.success.schema) {
      const errors = [...Value.Errors(doc.success.schema, answer.body)].map((error) => `${error.path}: ${error.message}`);
      expect({ route: example.route, errors }).toEqual({ route: example.route, errors: [] });
    }
    if (doc.success.contentType) expect(answer.headers.get('content-type')).toContain(doc.success.contentType);
    if (example.route === 'POST /bookings') [bookingId, cancelToken] = [answer.body.id, answer.body.cancel_token];
    example.then?.(answer.body);
    covered.add(example.route);
  }
  expect([...covered].sort()).toEqual(tableRoutes().sort());
});

test('example requests invalid against the document are refused with a code it documents', async () => {
  // Rows that exist, so that each request is refused for what the document refuses, not for a missing row.
  const roomId = (await call(server.url, 'POST', '/rooms', { name: 'oa bad' }, admin)).body.id;
  const userId = (await call(server.url, 'POST', '/users', { name: 'oa bad' }, admin)).body.id;
  const examples: Example[] = [
    { route: 'POST /book', body: { room_name: 'ROOM1', date: '01.01.30' } },
    { route: 'POST /bookings', body: { room_id: 0, user_id: 1, date: '2030-01-01' } },
    { route: 'POST /rooms', body: { name: 5 } },
    { route: 'PATCH /users/:id', id: () => userId, body: { name: 'abc', extra: true } },
    { route: 'GET /bookings', query: { limit: '0' } },
    { route: 'GET /bookings', query: { unknown: '1' } },
    { route: 'GET /rooms', query: { after: '-1' } },
    { route: 'GET /users', query: { limit: '1001' } },
    { route: 'GET /rooms/:id/availability', id: () => roomId, query: { from: 'x'.repeat(40) } },
    { route: 'DELETE /rooms/:id', id: () => roomId, query: { cascade: 'maybe' } },
    { route: 'GET /rooms/:id', id: () => 0 },
    { route: 'GET /bookings/:id', id: () => -1 },
  ];
  for (const example of examples) {
    const doc = routeDocs[example.route];
    expect({ route: example.route, valid: validity(doc, example).every(Boolean) }).toEqual({ route: example.route, valid: false });
    const answer = await request(example);
    const documented = operationOf(example.route).responses[String(answer.status)];
    expect({ route: example.route, status: answer.status, documented: Boolean(documented) })
      .toEqual({ route: example.route, status: answer.status, documented: true });
    expect(answer.status).toBe(400);
    expect(documented.content['application/json'].schema.properties.error.enum).toContain(answer.body.error);
  }
});

test('admin routes without the token they document are refused with 401', async () => {
  for (const route of Object.keys(routeDocs).filter((key) => routeDocs[key].auth === 'admin')) {
    expect(operationOf(route).security).toEqual([{ adminToken: [] }]);
    const answer = await request({ route, id: () => 1, body: { name: 'nobody' }, headers: {} });
    expect({ route, status: answer.status, error: answer.body.error }).toEqual({ route, status: 401, error: 'unauthorized' });
  }
});

test('the name lengths the document states are the ones the server keeps to', async () => {
  const bodyOf = (route: string) => operationOf(route).requestBody.content['application/json'].schema.properties;
  const lengths = (description: string, kind: 'room' | 'user'): [number, number] => {
    const match = new RegExp(`${kind} name: (\\d+) to (\\d+) characters`).exec(description ?? '');
    expect({ kind, description, stated: Boolean(match) }).toEqual({ kind, description, stated: true });
    return [Number(match![1]), Number(match![2])];
  };
  const stated = {
    room: lengths(bodyOf('POST /rooms').name.description, 'room'),
    user: lengths(bodyOf('POST /users').name.description, 'user'),
  };
  // The booking calls name them too, with the same lengths.
  for (const route of ['POST /book', 'POST /bookings']) {
    expect(lengths(bodyOf(route).room_name.description, 'room')).toEqual(stated.room);
    expect(lengths(bodyOf(route).user_name.description, 'user')).toEqual(stated.user);
  }
  for (const [kind, [min, max]] of Object.entries(stated)) {
    const name = (length: number, letter: string) => ` ${letter.repeat(length)} `; // trimmed before it is counted
    for (const [length, status] of [[min, 201], [max, 201], [min - 1, 400], [max + 1, 400]]) {
      const answer = await call(server.url, 'POST', `/${kind}s`, { name: name(length, kind === 'room' ? 'q' : 'w') }, admin);
      expect({ kind, length, status: answer.status, error: answer.body.error })
        .toEqual({ kind, length, status, error: status === 400 ? 'invalid_name' : undefined });
      if (status === 201) expect(answer.body.name.length).toBe(length);
    }
  }
});

test('a `to` before `from`, which the schemas cannot refuse, is refused as the parameter\'s description says', async () => {
  const roomId = (await call(server.url, 'POST', '/rooms', { name: 'oa range' }, admin)).body.id;
  for (const route of ['GET /bookings', 'GET /rooms/:id/availability']) {
    const to = operationOf(route).parameters.find((p: { name: string }) => p.name === 'to');
    expect({ route, description: to.description }).toEqual({ route, description: expect.stringContaining('not before from') });
    const answer = await request({ route, id: () => roomId, query: { from: dayFromToday(3), to: dayFromToday(2) } });
    expect({ route, status: answer.status, error: answer.body.error }).toEqual({ route, status: 400, error: 'invalid_query' });
    expect(operationOf(route).responses['400'].content['application/json'].schema.properties.error.enum).toContain('invalid_query');
  }
});
