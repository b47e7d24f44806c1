import type { Static } from '@sinclair/typebox';
import type { RouteTable } from '../../src/http/app';
import { openApiDocument } from '../../src/http/openapi';
import { routeDocs } from '../../src/http/route-docs';
import { Query } from '../../src/http/params';
import { AppError } from '../../src/errors';
import { BookingListQuery, PageQuery } from '../../src/domain/schemas';
import type { Booking as BookingRow } from '../../src/db/booking-statement';
import type { Named as NamedRow } from '../../src/db/named';
import * as responses from '../../src/domain/responses';

/** The generator, on tables made up here; the real table is checked in tests/integration/openapi.test.ts. */
const reply = () => ({ status: 200 });
const options = { version: '9.9.9', adminRequired: true };

// The handlers build their answers from these row types: `tsc -p tests` fails if they drift from the schemas.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const bookingAgrees: Same<Static<typeof responses.Booking>, BookingRow> = true;
const namedAgrees: Same<Static<typeof responses.Named>, NamedRow> = true;

test('the response schemas and the row types agree', () => {
  expect([bookingAgrees, namedAgrees]).toEqual([true, true]);
});

test('a route of the table without a description still appears, marked undocumented', () => {
  const table: RouteTable = [['get', '/health', reply], ['post', '/brand/:id/new', reply, { params: 1 }]];
  const document = openApiDocument(table, options);
  expect(Object.keys(document.paths)).toEqual(['/health', '/brand/{id}/new']);
  expect(document.paths['/health'].get['x-undocumented']).toBeUndefined();
  expect(document.paths['/brand/{id}/new'].post['x-undocumented']).toBe(true);
  expect(document.info.version).toBe('9.9.9');
});

test('admin routes need the bearer token only when ADMIN_TOKEN is set', () => {
  const table: RouteTable = [['post', '/rooms', reply, { body: true, admin: true }], ['del', '/bookings/:id', reply, { params: 1 }]];
  const withToken = openApiDocument(table, options).paths;
  const without = openApiDocument(table, { ...options, adminRequired: false }).paths;
  expect(withToken['/rooms'].post.security).toEqual([{ adminToken: [] }]);
  expect(withToken['/rooms'].post.responses['401']).toBeDefined();
  expect(without['/rooms'].post.security).toBeUndefined();
  expect(without['/rooms'].post.responses['401']).toBeUndefined();
  // Without the token, a web page from elsewhere (Origin) is refused: 403.
  expect(without['/rooms'].post.responses['403'].content['application/json'].schema.properties.error)
    .toEqual({ type: 'string', enum: ['forbidden'] });
  expect(without['/bookings/{id}'].delete.security).toEqual([{ cancelToken: [] }]);
  expect(withToken['/bookings/{id}'].delete.responses['403'].content['application/json'].schema.properties.error)
    .toEqual({ type: 'string', enum: ['forbidden'] });
});

test('error answers list the codes of their status, with the catalogue\'s messages', () => {
  const document = openApiDocument([['post', '/book', reply, { body: true }]], options);
  const conflict = document.paths['/book'].post.responses['409'];
  const codes = [...conflict.content['application/json'].schema.properties.error.enum];
  expect(codes.sort()).toEqual(['already_booked', 'date_in_past', 'room_not_found', 'user_not_found']);
  expect(conflict.description).toContain('`already_booked`: The room is already booked on this day.');
  expect(Object.keys(document.paths['/book'].post.responses).sort()).toEqual(['201', '400', '409', '413', '415', '500', '503']);
});

test('every route, even one without the database, may answer 503 shutting_down: a stopping worker refuses all', () => {
  const document = openApiDocument([['get', '/health', reply]], options);
  expect(document.paths['/health'].get.responses['503'].content['application/json'].schema.properties.error)
    .toEqual({ type: 'string', enum: ['shutting_down'] });
});

test('error answers document the headers they carry (Retry-After, WWW-Authenticate, Accept-Encoding)', () => {
  const document = openApiDocument([['post', '/rooms', reply, { body: true }]], options);
  const { responses: answers } = document.paths['/rooms'].post;
  expect(answers['503'].headers).toEqual({ 'Retry-After': { description: 'with `db_unavailable`: 1', schema: { type: 'string', const: '1' } } });
  expect(answers['401'].headers['WWW-Authenticate'].schema.const).toBe('Bearer realm="roombook"');
  expect(answers['415'].headers['Accept-Encoding'].schema.const).toBe('identity');
  expect(answers['409'].headers).toBeUndefined();
});

test('every described route names a status and, for JSON answers, a schema', () => {
  for (const [key, doc] of Object.entries(routeDocs)) {
    expect({ key, status: doc.success.status >= 200 && doc.success.status < 300 }).toEqual({ key, status: true });
    if (doc.success.status !== 204 && !doc.success.contentType) expect({ key, schema: Boolean(doc.success.schema) }).toEqual({ key, schema: true });
  }
});

describe('Query with a schema', () => {
  test('takes names, ranges and defaults from it', () => {
    const query = new Query('limit=5', BookingListQuery);
    expect(query.integer('limit')).toBe(5);
    expect(query.integer('after')).toBe(0);
    expect(query.integer('room_id')).toBeUndefined();
    expect(new Query('', PageQuery).integer('limit')).toBe(100);
  });

  test('refuses names it does not declare and values outside its ranges', () => {
    expect(() => new Query('cascade=true', PageQuery)).toThrow(AppError);
    expect(() => new Query('limit=1001', PageQuery).integer('limit')).toThrow('limit must be an integer from 1 to 1000.');
    expect(() => new Query('after=9007199254740992', BookingListQuery).integer('after')).toThrow(AppError);
  });
});

test('the /docs page is self-contained: its one script parses, and the CSP allows exactly it', () => {
  const { docsPage } = require('../../src/http/docs-page') as typeof import('../../src/http/docs-page');
  const script = /<script>([\s\S]*)<\/script>/.exec(docsPage.html)![1];
  expect(() => new Function(script)).not.toThrow();
  const hash = require('node:crypto').createHash('sha256').update(script).digest('base64');
  expect(docsPage.contentSecurityPolicy).toContain(`script-src 'sha256-${hash}'`);
  expect(docsPage.html).not.toMatch(/(src|href)=["']?https?:/); // no CDN
  expect(docsPage.html).not.toContain('innerHTML');
});
