import { Type, type TSchema } from '@sinclair/typebox';
import { AppError, catalogue, type ErrorCode } from '../errors';
import { methodNames, type Method, type RouteTable } from './app';
import { docsPage } from './docs-page';
import { errorHeaders, PreSerialised, type Reply } from './reply';
import { routeDocs, type RouteDoc } from './route-docs';

/**
 * The OpenAPI 3.1 document, built once at start from the route table itself (every route in
 * it appears, described or not) and the TypeBox schemas that validate requests (JSON Schema
 * 2020-12, which OpenAPI 3.1 uses as it is).
 */
export interface DocumentOptions {
  version: string;
  adminRequired: boolean; // ADMIN_TOKEN is set: rooms and users need it
}

const json = (schema: TSchema): unknown => JSON.parse(JSON.stringify(schema)); // drops TypeBox's symbol keys

export const openApiPath = (path: string): string => path.replace(/:(\w+)/g, '{$1}');

const operationId = (method: Method, path: string): string =>
  methodNames[method].toLowerCase() + path.replace(/[/:.]+(\w)/g, (_, letter: string) => letter.toUpperCase());

/** The error codes a route can answer: its own, and those its shape implies. */
export function errorCodesOf(doc: RouteDoc, adminRequired: boolean): ErrorCode[] {
  const codes = new Set<ErrorCode>(doc.errors ?? []);
  if (doc.body) ['invalid_json', 'invalid_body', 'unsupported_media_type', 'body_too_large'].forEach((code) => codes.add(code as ErrorCode));
  if (doc.params) ['invalid_id', 'not_found'].forEach((code) => codes.add(code as ErrorCode));
  if (doc.query) codes.add('invalid_query');
  if (doc.auth === 'admin' && adminRequired) codes.add('unauthorized');
  if (doc.auth === 'admin' && !adminRequired) codes.add('forbidden'); // a web page from elsewhere (Origin)
  if (doc.auth === 'admin or cancel token') codes.add('forbidden');
  if (doc.database !== false) codes.add('db_unavailable');
  codes.add('shutting_down'); // a stopping worker refuses every request (src/http/route.ts)
  codes.add('internal');
  return [...codes];
}

/** The body of a rejection whose code is one of these (an enum: one shape whatever the count). */
export const errorBodyOf = (codes: ErrorCode[]) => Type.Object({
  error: Type.Unsafe<ErrorCode>({ type: 'string', enum: codes }),
  message: Type.String(),
}, { additionalProperties: false });

function errorResponses(codes: ErrorCode[]): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(catalogue[code][0], [...(byStatus.get(catalogue[code][0]) ?? []), code]);
  const responses: Record<string, unknown> = {};
  for (const [status, group] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[status] = {
      description: group.map((code) => `\`${code}\`: ${catalogue[code][1]}`).join(' '),
      headers: headersOf(group),
      content: { 'application/json': { schema: json(errorBodyOf(group)) } },
    };
  }
  return responses;
}

/** The headers the answers of these codes carry (src/http/reply.ts, errorHeaders), each saying which codes carry it. */
function headersOf(codes: ErrorCode[]): Record<string, unknown> | undefined {
  const headers: Record<string, { value: string; codes: ErrorCode[] }> = {};
  for (const code of codes) {
    for (const [name, value] of Object.entries(errorHeaders[code] ?? {})) (headers[name] ??= { value, codes: [] }).codes.push(code);
  }
  const entries = Object.entries(headers);
  if (entries.length === 0) return undefined;
  return Object.fromEntries(entries.map(([name, { value, codes: carriers }]) => [name, {
    description: `with ${carriers.map((code) => `\`${code}\``).join(' and ')}: ${value}`,
    schema: { type: 'string', const: value },
  }]));
}

function security(doc: RouteDoc, adminRequired: boolean): unknown[] | undefined {
  if (doc.auth === 'admin') return adminRequired ? [{ adminToken: [] }] : undefined;
  if (doc.auth === 'admin or cancel token') return adminRequired ? [{ cancelToken: [] }, { adminToken: [] }] : [{ cancelToken: [] }];
  return undefined;
}

function operation(method: Method, path: string, doc: RouteDoc, options: DocumentOptions): Record<string, unknown> {
  const pathParameters = [...path.matchAll(/:(\w+)/g)].map(([, name]) => ({
    name, in: 'path', required: true, schema: json(doc.params?.[name] ?? Type.String()),
  }));
  const queryParameters = Object.entries(doc.query?.properties ?? {}).map(([name, schema]) => ({
    name, in: 'query', required: doc.query?.required?.includes(name) ?? false, description: schema.description, schema: json(schema),
  }));
  const { success } = doc;
  return {
    operationId: operationId(method, path),
    tags: [doc.tag],
    summary: doc.summary,
    description: doc.description,
    parameters: [...pathParameters, ...queryParameters],
    requestBody: doc.body && { required: true, content: { 'application/json': { schema: json(doc.body) } } },
    security: security(doc, options.adminRequired),
    responses: {
      [success.status]: {
        description: success.description,
        content: success.contentType || success.schema
          ? { [success.contentType ?? 'application/json']: { schema: success.schema ? json(success.schema) : { type: 'string' } } }
          : undefined,
      },
      ...errorResponses(errorCodesOf(doc, options.adminRequired)),
    },
  };
}

export function openApiDocument(table: RouteTable, options: DocumentOptions): Record<string, any> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [method, path] of table) {
    const doc = routeDocs[`${methodNames[method]} ${path}`];
    (paths[openApiPath(path)] ??= {})[methodNames[method].toLowerCase()] = doc
      ? operation(method, path, doc, options)
      : { operationId: operationId(method, path), summary: '(not described in src/http/route-docs.ts)', 'x-undocumented': true,
        responses: { default: { description: 'undocumented' } } };
  }
  return JSON.parse(JSON.stringify({ // drops the undefined fields
    openapi: '3.1.0',
    info: {
      title: 'roombook',
      version: options.version,
      description: 'Room reservations. Every rejection is {"error": code, "message": text}; codes are listed per answer. '
        + 'Every GET also answers HEAD (the same headers, no body). '
        + `Any other path answers 404 \`not_found\`; another method on a known path, 405 \`method_not_allowed\` with Allow. `
        + 'Dates are accepted as DD.MM.YY, DD/MM/YY (20YY) or YYYY-MM-DD and answered as YYYY-MM-DD.',
    },
    tags: [{ name: 'bookings' }, { name: 'rooms' }, { name: 'users' }, { name: 'operations' }],
    paths,
    components: {
      securitySchemes: {
        adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN of the server' },
        cancelToken: { type: 'apiKey', in: 'header', name: 'X-Cancel-Token', description: 'the cancel_token of the booking\'s 201' },
      },
    },
  }));
}

/** GET /openapi.json and GET /docs; `publish` builds the document once, from the final table. */
export function apiDocRoutes(options: DocumentOptions) {
  let document: Reply | undefined;
  const page: Reply = { status: 200, body: new PreSerialised(docsPage.html), contentType: 'text/html; charset=utf-8',
    headers: { 'Content-Security-Policy': docsPage.contentSecurityPolicy } };
  return {
    openapi: (): Reply => {
      if (!document) throw new AppError('not_ready', 'The API document is not built yet.');
      return document;
    },
    page: (): Reply => page,
    publish(table: RouteTable): void {
      document = { status: 200, body: new PreSerialised(JSON.stringify(openApiDocument(table, options))) };
    },
  };
}
