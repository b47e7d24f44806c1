/**
 * The request generator of tests/faults/fuzz.test.ts. Every case is built from its own mulberry32
 * stream, seeded by (seed, index): a case does not depend on FUZZ_COUNT or on its neighbours, so
 * `FUZZ_SEED=<seed> FUZZ_ONLY=<index>` replays one case alone against a fresh database.
 *
 * Cases are meant to be rejected. The few that might be accepted are marked `mayPass`: reads, and
 * creations of rooms and users with odd Unicode names (those are the interesting inserts: the
 * JavaScript normaliser and the database CHECK must agree). The test tracks what they create.
 * Requests that could rename, delete or cancel existing rows are only built in forms that
 * cannot succeed (an id no row has, an invalid name, a wrong token).
 */

export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rng {
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = mulberry32(seed);
  }

  float(): number {
    return this.next();
  }

  /** An integer from min to max, both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** Picks by weight: [[weight, value], ...]. */
  weighted<T>(entries: readonly (readonly [number, T])[]): T {
    let roll = this.next() * entries.reduce((sum, [weight]) => sum + weight, 0);
    for (const [weight, value] of entries) {
      roll -= weight;
      if (roll < 0) return value;
    }
    return entries[entries.length - 1][1];
  }

  bytes(length: number): Buffer {
    const buffer = Buffer.alloc(length);
    for (let i = 0; i < length; i++) buffer[i] = Math.floor(this.next() * 256);
    return buffer;
  }

  text(alphabet: string, length: number): string {
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[Math.floor(this.next() * alphabet.length)];
    return out;
  }
}

/** (seed, index) -> the seed of that case's own stream. */
export function caseSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** What the generator knows of the database it fuzzes: the rows the test created first. */
export interface FuzzContext {
  adminToken: string;
  maxBodyBytes: number;
  rooms: { id: number; name: string }[];
  users: { id: number; name: string }[];
  /** Booked slots: booking a room on one of its days is already_booked, never a new row. */
  bookings: { id: number; room_id: number; user_id: number; date: string }[];
}

interface CaseBase {
  index: number;
  family: string; // what kind of garbage, for the coverage table
  route: string; // 'POST /book', ... or 'other' (no route has this path)
  mayPass: boolean; // a 2xx is allowed (a read, or a creation the test tracks)
}

export interface HttpCase extends CaseBase {
  transport: 'http';
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  chunked?: boolean; // sent with Transfer-Encoding: chunked instead of Content-Length
}

/** Protocol garbage on a raw socket: the server may answer 4xx or close the connection. */
export interface RawCase extends CaseBase {
  transport: 'raw';
  chunks: Buffer[]; // written one by one, a few milliseconds apart
}

export type FuzzCase = HttpCase | RawCase;

// ---------------------------------------------------------------------------------------------
// Building blocks

export const ROUTES = [
  'POST /book', 'POST /bookings', 'GET /bookings', 'GET /bookings/:id', 'DELETE /bookings/:id',
  'GET /rooms/:id/availability', 'POST /rooms', 'GET /rooms', 'GET /rooms/:id', 'PATCH /rooms/:id',
  'DELETE /rooms/:id', 'POST /users', 'GET /users', 'GET /users/:id', 'PATCH /users/:id', 'DELETE /users/:id',
  'GET /health', 'GET /ready', 'GET /openapi.json', 'GET /docs',
] as const;

const PATHS = ['/book', '/bookings', '/bookings/:id', '/rooms/:id/availability', '/rooms', '/rooms/:id', '/users',
  '/users/:id', '/health', '/ready', '/openapi.json', '/docs'];
/** The methods a path answers: those of its routes, and HEAD wherever GET is (src/http/app.ts). */
const allowedMethods = (template: string): string[] => {
  const methods = ROUTES.filter((route) => route.split(' ')[1] === template).map((route) => route.split(' ')[0]);
  return methods.includes('GET') ? [...methods, 'HEAD'] : methods;
};
const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'HEAD'];

/** No row has these ids (the fuzz creates a few hundred rows at most). */
const ABSENT_IDS = ['100000000', '2147483647', '1999999999', '123456789'];
const ABSENT_BOOKING_IDS = ['9007199254740991', '4000000000', '100000000000'];

const FUTURE_DATES = ['29.02.28', '31.12.99', '2099-12-31', '9999-12-31', '01/06/30', '15.07.31', '2030-01-01'];
const PAST_DATES = ['01.01.20', '29.02.24', '2000-02-29', '29.02.00', '1999-12-31', '0001-01-01', '31/12/25', '2025-06-30'];
export const INVALID_DATES = [
  '29.02.27', '00.01.27', '32.01.27', '31.04.27', '31.06.27', '29.02.2100', '2100-02-29', '1900-02-29', '0000-01-01',
  '2027-13-01', '2027-00-10', '2027-01-00', '2027-1-1', '27-01-01', '1.1.27', '01.01.2027', '01-01-27', '01.01/27',
  '01/01.27', ' 01.01.27', '01.01.27 ', '\u0661\u0662.\u0660\u0661.\u0662\u0667', '01.01.27\u0000', '', ' ', '20270101',
  '+2027-01-01', '10000-01-01', '9999-12-32', '2027-02-29', '2028-02-30', '31/06/27', '99.99.99', '00.00.00', 'NaN',
  'null', 'today', 'tomorrow', "2027-01-01' OR '1'='1", '2027-01-01T00:00:00Z', '2027-01-01 ', '２０２７-01-01',
  '-2027-01-01', '01.01.-7', '1e3.01.27', '0x1.01.27', '\ud800\udc00.01.27', '01\u200b.01.27', '2027\u201101\u201101',
];

const SQLISH = [
  "'; DROP TABLE rooms; --", "' OR '1'='1", "1; DELETE FROM bookings", "\" OR \"\"=\"", "admin'--", "' UNION SELECT",
  "$$; DROP TABLE users; $$", "\\'; TRUNCATE bookings; --", "%' OR 1=1 --", "') ON CONFLICT DO NOTHING --",
  "x' AND pg_sleep(5) --", "E'\\x00'", "$1", "${name}", "{{name}}", "%s%s%s%n", "../../etc/passwd", "<script>",
];

/** Name pieces: every one is odd somehow. */
const ODD_PIECES = [
  '\u0000', '\u0001', '\u001f', '\u007f', '\u0085', '\u009f', '\n', '\r\n', '\t', '\u000b', // control
  '\ud800', '\udfff', '\udbff', '\ude00\ud83d', // lone and reversed surrogates
  '\u{1F600}', '\u{1F1E9}\u{1F1EA}', '\u{1F468}\u200d\u{1F469}\u200d\u{1F467}', '\u{1F44D}\u{1F3FD}', '\u{10FFFF}', // emoji, astral
  'e\u0301', '\u0301', 'a\u0308\u0308\u0308', 'Z\u0351\u0352\u0353\u0354', '\u0915\u094d\u0937', // combining
  '\u200f', '\u200e', '\u202e', '\u2066', '\u061c', 'שלום', 'مرحبا', // bidi and RTL
  '\u00a0', '\u2007', '\u202f', '\u3000', '\u2028', '\u2029', '\ufeff', '\u200b', '\u180e', // spaces and invisibles
  'ß', 'ﬃ', 'ŉ', 'İ', 'ı', 'ς', '\u212a', 'ǅ', 'Ａ', 'ｚ', '\uffff', '\ufffe', '\ufffd', '한', '漢', '\u{20000}',
];

/** Names that cannot be stored: wrong type, wrong length, control characters, broken UTF-16. */
function invalidName(rng: Rng, kind: 'room' | 'user'): unknown {
  const max = kind === 'room' ? 16 : 34;
  return rng.pick<() => unknown>([
    () => rng.pick([0, -1, 1e308, 3.14, true, false, null, [], {}, ['ALPHA'], { name: 'x' }, [[[]]]]),
    () => 'Q'.repeat(rng.int(max + 1, 256)), // long: invalid_name
    () => 'Q'.repeat(rng.int(257, 4000)), // longer than the schema: invalid_body
    () => rng.pick(['', ' ', 'ab', ' a ', '\u00a0ab\u00a0', '\t\tx\t', '\u3000\u3000', '\ufeffab', 'e\u0301e\u0301', '\u{1F600}\u{1F600}']),
    () => `${'\u{1F600}'.repeat(rng.int(max + 1, max + 8))}`, // code points over the limit (UTF-16 units far over)
    () => `abc${rng.pick(['\u0000', '\u0001', '\u007f', '\u0085', '\n', '\ud800', '\udfff', '\ude00\ud83d'])}def`,
    () => rng.pick(['\u0000\u0000\u0000', 'abc\ud800', '\ud800abc', 'ab\u0000', '\u0000abc']),
  ])();
}

/** Odd Unicode names that may well be valid: only sent where a success is harmless or tracked. */
function oddName(rng: Rng): string {
  const parts: string[] = [];
  const count = rng.int(1, 6);
  for (let i = 0; i < count; i++) {
    parts.push(rng.chance(0.5) ? rng.pick(ODD_PIECES) : rng.text('abcXYZ019-_ .', rng.int(1, 5)));
  }
  if (rng.chance(0.15)) parts.push(rng.pick(SQLISH));
  return parts.join('');
}

/** An existing name, spelled differently: it normalises to the row's name (name_taken, or a lookup hit). */
function existingVariant(rng: Rng, name: string): string {
  return rng.pick<() => string>([
    () => name,
    () => name.toLowerCase(),
    () => name.toUpperCase(),
    () => `  ${name}\t`,
    () => `\u00a0${name}\u3000`,
    () => `\ufeff${name}`,
    () => name.split('').map((c) => (rng.chance(0.5) ? c.toUpperCase() : c.toLowerCase())).join(''),
  ])();
}

/** Ids in a body: only 1..2^31-1 integers are valid. */
function oddBodyId(rng: Rng): unknown {
  return rng.pick([0, -1, -0, -2147483648, 2147483648, 4294967296, 9007199254740993, 1e308, 1.5, 0.0001, '1', '01', 'abc',
    null, true, [], {}, [1], 1e-7, -1e308, '', ' 1', '１']);
}

// ---------------------------------------------------------------------------------------------
// Bodies

interface Body {
  text: Buffer;
  /** Guaranteed to fail (schema, syntax, auth, absent row, past date, taken slot...). */
  mustFail: boolean;
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

/** JSON text with the same key given twice: JSON.parse keeps the last one. */
function withDuplicateKey(rng: Rng, value: Record<string, unknown>): Buffer {
  const keys = Object.keys(value);
  if (keys.length === 0) return json(value);
  const key = rng.pick(keys);
  const decoy = JSON.stringify(rng.pick(['ALPHA', 1, null, '29.02.28', { x: 1 }]));
  return Buffer.from(`{${JSON.stringify(key)}:${decoy},${JSON.stringify(value).slice(1)}`);
}

function deeplyNested(rng: Rng, limit: number): Buffer {
  const [open, close] = rng.pick([['[', ']'], ['{"a":', '}'], ['{"room_name":', '}'], ['[{"x":', '}]']]);
  const depth = rng.int(500, Math.floor((limit - 20) / (open.length + close.length)));
  const inner = rng.pick(['1', '"x"', 'null', '[]']);
  const balanced = rng.chance(0.7);
  const text = open.repeat(depth) + inner + (balanced ? close.repeat(depth) : close.repeat(rng.int(0, depth - 1)));
  if (rng.chance(0.3)) return Buffer.from(`{"name":${text}}`.slice(0, limit));
  return Buffer.from(text.slice(0, limit));
}

function randomBytesBody(rng: Rng): Buffer {
  return rng.pick<() => Buffer>([
    () => rng.bytes(rng.int(0, 2000)),
    () => Buffer.from(rng.text('{}[]":,0123456789.eE+-truefalsn \\u', rng.int(1, 300))),
    // Invalid UTF-8 inside strings: decoded as U+FFFD; the date (or the trailing quote) still fails.
    () => Buffer.concat([Buffer.from('{"room_name":"'), rng.bytes(rng.int(1, 40)), Buffer.from('","user_name":"x\xff","date":"32.01.27"}')]),
    () => Buffer.concat([Buffer.from('{"name":"'), rng.bytes(rng.int(1, 40)), Buffer.from('"}"')]),
    () => Buffer.from([0xef, 0xbb, 0xbf, ...Buffer.from('{"name":"x"}')]), // a UTF-8 BOM
    () => Buffer.from('\u0000'.repeat(rng.int(1, 100))),
    () => Buffer.from(rng.pick(['', ' ', 'null', 'true', '0', '"str"', '[]', '{}', '{', '}', '[', 'NaN', 'Infinity', 'undefined',
      '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{}}}', '{"a":1}{"b":2}', '{"a":1,}', "{'a':1}", '1e400', '-', '"\\ud800"'])),
  ])();
}

function truncate(rng: Rng, text: Buffer): Buffer {
  if (text.length <= 1) return Buffer.alloc(0);
  return text.subarray(0, rng.int(0, text.length - 1));
}

/** Structural breakage common to every JSON body: returns undefined to keep the body as built. */
function brokenShape(rng: Rng, value: Record<string, unknown>, limit: number): Buffer | undefined {
  return rng.weighted<() => Buffer | undefined>([
    [6, () => undefined],
    [1, () => truncate(rng, json(value))],
    [1, () => randomBytesBody(rng)],
    [0.5, () => deeplyNested(rng, limit)],
    [0.5, () => json(rng.pick([[value], 'string', 42, null, true, [], Object.values(value)]))],
    [0.5, () => json({ ...value, [rng.pick(['extra', 'id', 'admin', '__proto__', 'ROOM_NAME', 'room_name ', ''])]: rng.pick([1, 'x', null]) })],
    [0.5, () => json({ ...value, [rng.pick(['huge', 'name', 'room_name', 'date'])]: 'x'.repeat(rng.int(300, limit - 200)) })],
  ])();
}

function bookingBody(rng: Rng, ctx: FuzzContext, byId: boolean): Body {
  let mustFail = false;
  let mayCreate = false; // an odd name could match a row another case created
  const booked = rng.pick(ctx.bookings);
  const room = ctx.rooms.find((r) => r.id === booked.room_id)!;
  const roomPick = rng.weighted<string>([[3, 'existing'], [2, 'absent'], [2, 'odd'], [1, 'invalid'], [0.5, 'missing'], [0.5, 'both']]);
  const userPick = rng.weighted<string>([[4, 'existing'], [1, 'absent'], [1, 'odd'], [1, 'invalid'], [0.3, 'missing']]);
  const datePick = rng.weighted<string>([[3, 'booked'], [3, 'invalid'], [2, 'past'], [1, 'future'], [0.5, 'notstring'], [0.3, 'missing']]);
  const body: Record<string, unknown> = {};

  const user = rng.pick(ctx.users);
  const setRef = (kind: 'room' | 'user', pick: string, existingName: string, existingId: number) => {
    const useId = byId && rng.chance(0.5);
    switch (pick) {
      case 'existing':
        if (useId) body[`${kind}_id`] = existingId;
        else body[`${kind}_name`] = existingVariant(rng, existingName);
        return;
      case 'absent':
        mustFail = true;
        if (useId) body[`${kind}_id`] = Number(rng.pick(ABSENT_IDS));
        else body[`${kind}_name`] = rng.pick(['nosuch', 'ghost-room', 'zz9', 'NOBODY-HERE', ...SQLISH.filter((s) => s.length <= 16)]) + 'q';
        return;
      case 'odd':
        mayCreate = true;
        body[`${kind}_name`] = oddName(rng);
        return;
      case 'invalid':
        mustFail = true;
        if (byId && rng.chance(0.5)) body[`${kind}_id`] = oddBodyId(rng);
        else body[`${kind}_name`] = invalidName(rng, kind);
        return;
      case 'missing':
        mustFail = true;
        return;
      case 'both':
        mustFail = true;
        body[`${kind}_name`] = existingName;
        body[`${kind}_id`] = existingId;
        return;
    }
  };
  setRef('room', roomPick, room.name, room.id);
  setRef('user', userPick, user.name, user.id);
  if (!byId && ('room_id' in body || 'user_id' in body)) mustFail = true; // /book takes names only

  switch (datePick) {
    case 'booked': {
      // A taken slot, in any of the three forms: fails only when the room is that slot's room.
      const [y, m, d] = booked.date.split('-');
      body.date = rng.pick([booked.date, `${d}.${m}.${y.slice(2)}`, `${d}/${m}/${y.slice(2)}`]);
      if (roomPick === 'existing') mustFail = true;
      break;
    }
    case 'invalid': body.date = rng.pick(INVALID_DATES); mustFail = true; break;
    case 'past': body.date = rng.pick(PAST_DATES); mustFail = true; break;
    case 'future': body.date = rng.pick(FUTURE_DATES); break;
    case 'notstring': body.date = rng.pick([20270101, null, true, ['29.02.28'], { day: 29 }, 29.02]); mustFail = true; break;
    case 'missing': mustFail = true; break;
  }
  // Never book an existing room for an existing user on a free day: that would be a real booking.
  if (!mustFail && !mayCreate) {
    body.date = rng.pick(INVALID_DATES);
    mustFail = true;
  }
  const broken = brokenShape(rng, body, ctx.maxBodyBytes);
  if (broken) return { text: broken, mustFail: true };
  if (rng.chance(0.1)) return { text: withDuplicateKey(rng, body), mustFail };
  return { text: json(body), mustFail };
}

/** A { name } body for a room or user; `safe`: it must not be a name that could be stored. */
function nameBody(rng: Rng, ctx: FuzzContext, kind: 'room' | 'user', safe: boolean, renamedId?: number): Body {
  const rows = kind === 'room' ? ctx.rooms : ctx.users;
  const others = rows.filter((row) => row.id !== renamedId);
  const pick = rng.weighted<string>([[4, 'invalid'], [2, 'taken'], [safe ? 0 : 2, 'odd'], [0.5, 'missing']]);
  const body: Record<string, unknown> = {};
  let mustFail = true;
  if (pick === 'invalid') body.name = invalidName(rng, kind);
  else if (pick === 'taken') body.name = existingVariant(rng, rng.pick(others).name);
  else if (pick === 'odd') {
    body.name = oddName(rng);
    mustFail = false;
  }
  const broken = brokenShape(rng, body, ctx.maxBodyBytes);
  if (broken) return { text: broken, mustFail: true };
  if (rng.chance(0.1)) return { text: withDuplicateKey(rng, body), mustFail };
  return { text: json(body), mustFail };
}

// ---------------------------------------------------------------------------------------------
// Headers, ids, queries

const JSON_TYPES = ['application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/problem+json',
  'application/vnd.api+json', 'application/json;charset=latin1'];
const WRONG_TYPES = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=xyz', 'application/jsonp',
  'application/xml', 'json', '*/*', 'application/json,text/plain', 'application/json-seq', 'text/json', 'application/',
  'application/json\u00ff', 'x'.repeat(500), ';', 'application /json', 'application/json5'];

type Auth = 'none' | 'wrong' | 'admin';
function authHeader(rng: Rng, ctx: FuzzContext, auth: Auth): Record<string, string> {
  if (auth === 'none') return rng.chance(0.8) ? {} : { authorization: '' };
  if (auth === 'admin') {
    return { authorization: rng.pick([`Bearer ${ctx.adminToken}`, `bearer ${ctx.adminToken}`, `BEARER   ${ctx.adminToken} `]) };
  }
  return {
    authorization: rng.pick([
      'Bearer wrong-token', 'Bearer', 'Bearer ', `Basic ${Buffer.from(`admin:${ctx.adminToken}`).toString('base64')}`,
      ctx.adminToken, `Bearer ${ctx.adminToken}x`, `Bearer x${ctx.adminToken}`, `Bearer ${ctx.adminToken.slice(0, -1)}`,
      `Token ${ctx.adminToken}`, `Bearer\t${ctx.adminToken}`, `Bearer ${'A'.repeat(3000)}`, 'Bearer \u00ff\u00fe', "Bearer ' OR 1=1",
      `Bearer ${ctx.adminToken}, Bearer ${ctx.adminToken}`,
    ]),
  };
}

function oddPathId(rng: Rng): string {
  return rng.pick([
    '0', '00', '-1', '-0', '+1', '1.0', '1e3', '0x1', '0b1', '%31', '%2B1', '%201', '%EF%BC%91', '%D9%A3', 'NaN', 'null',
    'undefined', 'Infinity', '1%27%20OR%20%271%27%3D%271', '1%3BDROP%20TABLE%20rooms', '%00', '1%00', '%F0%9F%98%80', '1%20', '%09',
    '99999999999999999999', '999999999999999999999', '18446744073709551616', '9'.repeat(rng.int(21, 2000)), '1%2F2', 'abc',
    '%ff', '%', '1,2', 'true', '\u00e9', 'ID',
  ]);
}

/** A value no integer parameter accepts (limit 1..1000, after 0..max, ids 1..2^31-1). */
function badInteger(rng: Rng, key: string): string {
  const common = ['', '-1', '99999999999999999', '1e3', '0x10', '%201', '1.5', 'NaN', '%00', '%EF%BC%91', '9007199254740992',
    'abc', '1,2', '+5', '%2B5', '1%20', 'Infinity', '-0', '%D9%A3', "1'%20OR%20'1'='1", '0.0', '1_000'];
  const specific: Record<string, string[]> = { limit: ['0', '1001', '00', '99999'], room_id: ['0', '2147483648'],
    user_id: ['0', '000', '2147483648'], after: ['-5'] };
  return rng.pick([...common, ...(specific[key] ?? [])]);
}

/**
 * Query strings with at least one parameter that makes the call a 400: unknown keys, duplicates,
 * non-numbers, huge numbers, bad dates, %-garbage. Never used where a valid query would change data.
 */
function badQuery(rng: Rng, keys: string[], dateKeys: string[]): string {
  const parts: string[] = [];
  const integerKeys = keys.filter((key) => !dateKeys.includes(key));
  const valid = (key: string): string => (dateKeys.includes(key) ? rng.pick([...FUTURE_DATES, ...PAST_DATES]) : String(rng.int(1, 50)));
  for (const key of keys) if (rng.chance(0.3)) parts.push(`${key}=${encodeURIComponent(valid(key))}`);
  const defect = rng.weighted<() => string>([
    [2, () => `${rng.pick(['foo', 'LIMIT', 'Limit', 'limit%20', '%00', '__proto__', 'constructor', 'room-id', 'page', "limit'--",
      '%E2%80%AE', 'from%00', 'to[]', 'limit[0]', '%6C%69%6D%69%74%00'])}=${rng.int(1, 9)}`],
    [2, () => { const key = rng.pick(keys); return `${key}=${encodeURIComponent(valid(key))}&${key}=${encodeURIComponent(valid(key))}`; }],
    [integerKeys.length ? 3 : 0, () => { const key = rng.pick(integerKeys); return `${key}=${badInteger(rng, key)}`; }],
    [dateKeys.length ? 3 : 0, () => `${rng.pick(dateKeys)}=${encodeURIComponent(rng.pick(INVALID_DATES))}`],
    [dateKeys.length ? 1 : 0, () => `${rng.pick(dateKeys)}=${rng.pick(['%', '%zz', '29%2E02%2E27', '29.02.2%', '%3231.12.99'])}`],
    [2, () => rng.pick(['%', '%zz', '%ff%fe', '%E2%80', '%ED%A0%80', '=', '==1', '=&=', 'a=%', `${rng.pick(keys)}%3D1`,
      '??' + rng.pick(keys) + '=1', // URLSearchParams drops one leading '?', not two
      `${rng.pick(keys)}=1;${rng.pick(keys)}=2`, '%26%3D', '+=+', '%2B%3D%2B', '&&&x=1&&'])],
    [0.5, () => `${rng.pick(keys)}=${'9'.repeat(rng.int(17, 1500))}`],
  ]);
  parts.splice(rng.int(0, parts.length), 0, defect());
  return parts.join(rng.chance(0.9) ? '&' : '&&');
}

// ---------------------------------------------------------------------------------------------
// Families

const room = (rng: Rng, ctx: FuzzContext) => rng.pick(ctx.rooms);
const user = (rng: Rng, ctx: FuzzContext) => rng.pick(ctx.users);

function httpCase(index: number, family: string, route: string, method: string, path: string,
  extra: Partial<HttpCase> = {}): HttpCase {
  return { transport: 'http', index, family, route, method, path, headers: {}, mayPass: false, ...extra };
}

function withBody(c: HttpCase, rng: Rng, body: Buffer, contentType?: string): HttpCase {
  const type = contentType ?? rng.weighted([[8, 'application/json'], [1, rng.pick(JSON_TYPES)], [1, '']]);
  if (type !== '') c.headers['content-type'] = type;
  c.body = body;
  c.chunked = rng.chance(0.05);
  return c;
}

/** POST /book, POST /bookings: bodies that cannot book. */
function bookingFamily(index: number, rng: Rng, ctx: FuzzContext): HttpCase {
  const route = rng.pick(['POST /book', 'POST /bookings']);
  const body = bookingBody(rng, ctx, route === 'POST /bookings');
  return withBody(httpCase(index, 'booking-body', route, 'POST', route.split(' ')[1], { mayPass: !body.mustFail }), rng, body.text);
}

/** POST and PATCH of rooms and users. */
function namedBodyFamily(index: number, rng: Rng, ctx: FuzzContext): HttpCase {
  const kind = rng.pick(['room', 'user'] as const);
  const collection = `/${kind}s`;
  const auth = rng.weighted<Auth>([[6, 'admin'], [1, 'none'], [1, 'wrong']]);
  if (rng.chance(0.5)) {
    const body = nameBody(rng, ctx, kind, auth !== 'admin' ? false : rng.chance(0.7));
    const c = httpCase(index, 'name-body', `POST ${collection}`, 'POST', collection,
      { mayPass: auth === 'admin' && !body.mustFail });
    Object.assign(c.headers, authHeader(rng, ctx, auth));
    return withBody(c, rng, body.text);
  }
  // PATCH: an existing row only with a name that cannot be stored; any name for an id no row has.
  const rows = kind === 'room' ? ctx.rooms : ctx.users;
  const existing = rng.chance(0.6) ? rng.pick(rows) : undefined;
  const id = existing ? String(existing.id) : rng.chance(0.7) ? rng.pick(ABSENT_IDS) : oddPathId(rng);
  const body = existing || auth !== 'admin' ? nameBody(rng, ctx, kind, true, existing?.id) : nameBody(rng, ctx, kind, false);
  const c = httpCase(index, 'name-body', `PATCH ${collection}/:id`, 'PATCH', `${collection}/${id}`);
  Object.assign(c.headers, authHeader(rng, ctx, auth));
  return withBody(c, rng, body.text);
}

/** Unsupported, missing and odd Content-Types on every body route. */
function contentTypeFamily(index: number, rng: Rng, ctx: FuzzContext): HttpCase {
  const c = rng.chance(0.5) ? bookingFamily(index, rng, ctx) : namedBodyFamily(index, rng, ctx);
  c.family = 'content-type';
  const type = rng.pick([...WRONG_TYPES, ...WRONG_TYPES, '']);
  if (type === '') delete c.headers['content-type'];
  else c.headers['content-type'] = type;
  return c;
}

/** Bodies over MAX_BODY_BYTES (413), declared or chunked, and bodies right at the limit. */
function oversizeFamily(index: number, rng: Rng, ctx: FuzzContext): HttpCase {
  const route = rng.pick(['POST /book', 'POST /bookings', 'POST /rooms', 'POST /users', 'PATCH /rooms/:id', 'PATCH /users/:id']);
  const path = route.split(' ')[1].replace(':id', rng.pick(ABSENT_IDS));
  const size = rng.weighted([[5, rng.int(ctx.maxBodyBytes + 1, ctx.maxBodyBytes * 4)], [1, ctx.maxBodyBytes + 1],
    [1, ctx.maxBodyBytes], [0.3, rng.int(ctx.maxBodyBytes * 10, ctx.maxBodyBytes * 60)]]);
  const filler = rng.pick(['x', 'é', '\u{1F600}', ' ']);
  const prefix = '{"name":"';
  let text = prefix + filler.repeat(Math.ceil(size / Buffer.byteLength(filler)));
  text = Buffer.from(text).subarray(0, size - 2).toString('latin1');
  const body = Buffer.concat([Buffer.from(text, 'latin1'), Buffer.from('"}')]).subarray(0, size);
  const c = httpCase(index, 'oversize', route, route.split(' ')[0], path);
  Object.assign(c.headers, authHeader(rng, ctx, rng.pick<Auth>(['admin', 'none'])));
  withBody(c, rng, body, 'application/json');
  c.chunked = rng.chance(0.3);
  return c;
}

/** Malformed, negative and huge ids on every route with an id in its path. */
function pathIdFamily(index: number, rng: Rng, ctx: FuzzContext): HttpCase {
  const route = rng.pick(ROUTES.filter((r) => r.includes(':id')));
  const [method, template] = route.split(' ');
  const absent = template.startsWith('/bookings') ? ABSENT_BOOKING_IDS : ABSENT_IDS;
  const id = rng.chance(0.75) ? oddPathId(rng) : rng.pick(absent);
  const c = httpCase(index, 'path-id', route, method, template.replace(':id', id));
  if (method === 'PATCH') withBody(c, rng, json({ name: rng.chance(0.5) ? oddName(rng) : 'valid-name' }));
  if (method !== 'GET') Object.assign(c.headers, authHeader(rng, ctx, rng.pick<Auth>(['admin', 'admin', 'none', 'wrong'])));
  if (route === 'DELETE /bookings/:id' && rng.chance(0.5)) c.headers['x-cancel-token'] = rng.text('abcdefABCDEF0123456789-_', 22);
  return c;
}

/** Unknown keys, duplicates, non-numbers, huge limits, bad dates, %-garbage. */
function queryFamily(index: number, rng: Rng, ctx: FuzzContext): HttpCase {
  const which = rng.pick(['rooms', 'users', 'bookings', 'availability', 'delete-room', 'delete-user']);
  switch (which) {
    case 'rooms': case 'users':
      return httpCase(index, 'query', `GET /${which}`, 'GET', `/${which}?${badQuery(rng, ['limit', 'after'], [])}`);
    case 'bookings':
      return httpCase(index, 'query', 'GET /bookings', 'GET',
        `/bookings?${badQuery(rng, ['room_id', 'user_id', 'from', 'to', 'limit', 'after'], ['from', 'to'])}`);
    case 'availability': {
      const id = rng.chance(0.9) ? room(rng, ctx).id : rng.pick(ABSENT_IDS);
      const query = rng.chance(0.8) ? badQuery(rng, ['from', 'to'], ['from', 'to'])
        : `from=${rng.pick(['2027-01-01', '01.01.27', '9999-12-31', '0001-01-01'])}&to=${rng.pick(['2026-12-31', '2028-01-03', '9999-12-31', '0001-01-01', '31.12.99'])}`;
      return httpCase(index, 'query', 'GET /rooms/:id/availability', 'GET', `/rooms/${id}/availability?${query}`, { mayPass: true });
    }
    default: {
      // DELETE with a bad ?cascade (checked before anything is deleted), on existing rows, with the admin token.
      const kind = which === 'delete-room' ? 'room' : 'user';
      const row = kind === 'room' ? room(rng, ctx) : user(rng, ctx);
      const bad = rng.pick(['yes', '1', '0', 'TRUE', 'False', 'on', 'false%20', '%00', 'tru', 'true&cascade=true', 'false&cascade',
        'true&x=1', '%74rue%00', 'null', '\u00e9'.normalize()]);
      const query = rng.pick([`cascade=${encodeURI(bad)}`, `cascade=${encodeURI(bad)}&cascade=true`, `${rng.pick(['force', 'Cascade', 'cascade%00', 'x'])}=true`]);
      const c = httpCase(index, 'query', `DELETE /${kind}s/:id`, 'DELETE', `/${kind}s/${row.id}?${query}`);
      Object.assign(c.headers, authHeader(rng, ctx, 'admin'));
      return c;
    }
  }
}

/** Every path with every method it does not allow (405), and paths no route has (404). */
function methodFamily(index: number, rng: Rng, ctx: FuzzContext): HttpCase {
  if (rng.chance(0.3)) {
    const path = rng.pick(['/', '/room', '/Rooms', '/ROOMS', '/rooms/1/availability/x', '/book/', '/rooms/', '/rooms//1',
      '/rooms/1/', '/health/', '/../etc/passwd', '/%2e%2e/%2e%2e/', '/rooms%2F1', '//', '/bookings/1/2', '/users/1/bookings',
      '/index.html', '/.env', '/rooms/1/availability/', `/${'a'.repeat(rng.int(100, 2500))}`, '/\u00e9\u00ff', '/rooms;1', '/*',
      '/rooms/%2F', '/health%00', '/%00', '/book?', '/ready/../health', '/rooms/1/../../book']);
    const method = rng.pick(HTTP_METHODS);
    const c = httpCase(index, 'method', 'other', method, path);
    if (method === 'POST' || method === 'PATCH') withBody(c, rng, json({ name: 'x' }));
    return c;
  }
  const template = rng.pick(PATHS);
  const allowed = allowedMethods(template);
  const method = rng.pick(HTTP_METHODS.filter((m) => !allowed.includes(m)));
  const path = template.replace(':id', String(rng.chance(0.5) ? room(rng, ctx).id : rng.pick(ABSENT_IDS)));
  const c = httpCase(index, 'method', `405 ${template}`, method, path);
  if (rng.chance(0.3)) withBody(c, rng, json({ name: 'x', date: '29.02.28' }));
  if (rng.chance(0.3)) Object.assign(c.headers, authHeader(rng, ctx, 'admin'));
  return c;
}

/** Missing, wrong and odd credentials on every call that needs them. */
function authFamily(index: number, rng: Rng, ctx: FuzzContext): HttpCase {
  const route = rng.pick(['POST /rooms', 'POST /users', 'PATCH /rooms/:id', 'PATCH /users/:id', 'DELETE /rooms/:id',
    'DELETE /users/:id', 'DELETE /bookings/:id']);
  const [method, template] = route.split(' ');
  const rows: { id: number }[] = template.startsWith('/rooms') ? ctx.rooms : template.startsWith('/users') ? ctx.users
    : ctx.bookings;
  const c = httpCase(index, 'auth', route, method, template.replace(':id', String(rng.pick(rows).id)));
  Object.assign(c.headers, authHeader(rng, ctx, rng.pick<Auth>(['none', 'wrong', 'wrong'])));
  if (route === 'DELETE /bookings/:id') {
    const token = rng.pick(['', 'x', rng.text('abcdefABCDEF0123456789-_', 22), rng.text('abcdef', 200), '\u00ff'.repeat(22),
      'AAAAAAAAAAAAAAAAAAAAAA', "' OR 1=1 --"]);
    if (token !== '' || rng.chance(0.5)) c.headers['x-cancel-token'] = token;
  }
  if (method === 'POST' || method === 'PATCH') withBody(c, rng, json({ name: rng.pick(['fresh-name', oddName(rng), 'NEW ROOM']) }));
  return c;
}

/** Reads that are fine or nearly so: they keep the fuzz honest about what a 2xx looks like. */
function readFamily(index: number, rng: Rng, ctx: FuzzContext): HttpCase {
  const r = room(rng, ctx);
  const [route, path] = rng.pick<[string, string]>([
    ['GET /health', '/health'], ['GET /ready', '/ready'], ['GET /openapi.json', '/openapi.json'], ['GET /docs', `/docs?${badQuery(rng, ['x'], [])}`], ['GET /health', `/health?${badQuery(rng, ['x'], [])}`],
    ['GET /rooms', `/rooms?limit=${rng.int(1, 1000)}&after=${rng.int(0, 20)}`], ['GET /users', '/users'],
    ['GET /rooms/:id', `/rooms/${r.id}`], ['GET /rooms/:id', `/rooms/${'0'.repeat(rng.int(1, 10))}${r.id}`],
    ['GET /users/:id', `/users/${user(rng, ctx).id}`], ['GET /bookings/:id', `/bookings/${rng.pick(ctx.bookings).id}`],
    ['GET /bookings', `/bookings?room_id=${r.id}&from=${encodeURIComponent(rng.pick([...FUTURE_DATES, ...PAST_DATES]))}`],
    ['GET /rooms/:id/availability', `/rooms/${r.id}/availability?from=29.02.28&to=${rng.pick(['29.02.28', '31.03.28', '28.02.29'])}`],
    ['GET /rooms/:id/availability', `/rooms/${r.id}/availability`],
  ]);
  const c = httpCase(index, 'read', route, 'GET', path, { mayPass: true });
  if (rng.chance(0.1)) withBody(c, rng, rng.bytes(rng.int(1, 500)), 'application/octet-stream'); // a body on a GET is ignored
  return c;
}

// ---------------------------------------------------------------------------------------------
// Raw sockets: what node:http would refuse to send

const crlf = (lines: string[]): string => lines.join('\r\n') + '\r\n\r\n';

function rawFamily(index: number, rng: Rng, ctx: FuzzContext): RawCase {
  const route = rng.pick(ROUTES);
  const [method, template] = route.split(' ');
  const path = template.replace(':id', String(rng.pick(ctx.rooms).id));
  const bodyText = '{"room_name":"x","user_name":"y","date":"29.02.27"}';
  const latin1 = (text: string) => Buffer.from(text, 'latin1');
  const utf8 = (text: string) => Buffer.from(text, 'utf8');
  const variant = rng.weighted<() => { chunks: Buffer[]; mayPass?: boolean; name: string }>([
    [3, () => ({ name: 'random-bytes', chunks: [rng.bytes(rng.int(1, 3000))] })],
    [1, () => ({ name: 'random-text', chunks: [latin1(rng.text('GETPOS /HTP1.\r\n:abc', rng.int(1, 400)))] })],
    [1, () => ({ name: 'tls-hello', chunks: [Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), rng.bytes(64)])] })],
    [1, () => ({ name: 'h2-preface', chunks: [latin1('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), rng.bytes(30)] })],
    [2, () => ({
      name: 'request-line',
      chunks: [latin1(crlf([rng.pick([`${method.toLowerCase()} ${path} HTTP/1.1`, `FOO ${path} HTTP/1.1`, `${method} ${path}`,
        `${method} ${path} HTTP/2.0`, `${method} ${path} HTTP/9.9`, `${method} ${path} HTTP/1.1 extra`, `${method}  ${path}  HTTP/1.1`,
        `${method} ${path.slice(1)} HTTP/1.1`, `${method} http://evil.example${path} HTTP/1.1`, `${method} * HTTP/1.1`,
        `${method} ${path}\u0000 HTTP/1.1`, `${method} ${path} x HTTP/1.1`, `${method} /r\u00e9\u00ff HTTP/1.1`, `CONNECT 127.0.0.1:1 HTTP/1.1`,
        ` ${method} ${path} HTTP/1.1`, `${method}\t${path}\tHTTP/1.1`, `${method} ${path} http/1.1`]), 'Host: x']))],
    })],
    [1, () => ({ name: 'http10', chunks: [latin1(`${method} ${path} HTTP/1.0\r\n\r\n`)] })],
    [1, () => ({ name: 'bare-lf', chunks: [latin1(`GET ${path} HTTP/1.1\nHost: x\n\n`)], mayPass: true })],
    [2, () => ({
      name: 'bad-header',
      mayPass: method === 'GET',
      chunks: [latin1(crlf([`${method} ${path} HTTP/1.1`, 'Host: x', rng.pick(['NoColonHeader', 'Bad Name: x', ': empty-name',
        'X-Nul: a\u0000b', 'X-Ctl: \u0001\u0002', ' folded: continuation', 'X-Fold: a\r\n  b', `X-Latin: ${'\u00ff'.repeat(50)}`,
        'Content-Type: application/json\u0000', 'Host: y', 'X-Many: 1\r\n'.repeat(rng.int(60, 200)).trim(), 'Authorization: Bearer \u00e9']), 'Content-Length: 0']))],
    })],
    [1, () => ({ name: 'utf8-header', chunks: [utf8(crlf([`${method} ${path} HTTP/1.1`, 'Host: x', 'Authorization: Bearer t\u00f6k\u20ac\u{1F600}',
      'X-Cancel-Token: \u{1F600}\u0301', 'Content-Type: application/json; charset=\u00e9', 'Content-Length: 0']))], mayPass: method === 'GET' })],
    [3, () => {
      const length = rng.pick(['abc', '-1', '1e1', '0x10', '5.0', '+5', 'NaN', 'Infinity', '5, 5', '4294967296', '4294967298',
        '18446744073709551621', '-0', '0.5', '１', ' ', `${bodyText.length}${bodyText.length}`]);
      return { name: 'bad-content-length', chunks: [latin1(crlf([`POST ${rng.pick(['/book', '/rooms', '/users', '/bookings'])} HTTP/1.1`,
        'Host: x', 'Content-Type: application/json', `Content-Length: ${length}`]) + bodyText)] };
    }],
    [1, () => ({ name: 'content-length-twice', chunks: [latin1(crlf(['POST /book HTTP/1.1', 'Host: x', `Content-Length: ${bodyText.length}`,
      `Content-Length: ${rng.int(0, 100)}`]) + bodyText)] })],
    [1, () => ({ name: 'short-content-length', chunks: [latin1(crlf(['POST /book HTTP/1.1', 'Host: x', 'Content-Type: application/json',
      `Content-Length: ${rng.int(0, bodyText.length - 1)}`]) + bodyText)] })],
    [2, () => ({
      name: 'bad-chunked', chunks: [latin1(crlf(['POST /book HTTP/1.1', 'Host: x', 'Content-Type: application/json',
        rng.pick(['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked\r\nContent-Length: 5', 'Transfer-Encoding: gzip, chunked',
          'Transfer-Encoding: chunked, identity', 'Transfer-Encoding:  CHUNKED'])]) + rng.pick(['zz\r\n{}\r\n0\r\n\r\n',
        'ffffffffffffffffff\r\n{}', '-1\r\n{}\r\n0\r\n\r\n', '2\r\n{}0\r\n\r\n', '2;ext=1\r\n{}\r\n0\r\n\r\n', '0\r\n\r\n', '2\r\n{}\r\n',
        '4000\r\n' + 'x'.repeat(100), `${(ctx.maxBodyBytes * 2).toString(16)}\r\n${'x'.repeat(ctx.maxBodyBytes * 2)}\r\n0\r\n\r\n`]))],
    })],
    [1, () => ({ name: 'pipelined', chunks: [latin1(crlf([`GET ${path} HTTP/1.1`, 'Host: x']).repeat(rng.int(2, 5)))], mayPass: true })],
    [1, () => {
      // Over the header limit, in pieces: uWS buffers at most 4 KB of an unfinished head and cuts the
      // connection; pieces that reach it in one read (a busy worker) are taken whole, so a 200 may come back.
      const head = latin1(`GET /rooms HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(rng.int(5000, 40000))}\r\n\r\n`);
      const pieces: Buffer[] = [];
      for (let at = 0; at < head.length; at += 1000) pieces.push(head.subarray(at, at + 1000));
      return { name: 'header-over-limit', chunks: pieces, mayPass: true };
    }],
    [0.5, () => ({ name: 'header-huge-one-write', mayPass: true, // one read: uWS takes it whole (its 4 KB cap is for pieces)
      chunks: [latin1(`GET /rooms HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(rng.int(5000, 60000))}\r\n\r\n`)] })],
    [1, () => ({ name: 'expect-continue', chunks: [latin1(crlf(['POST /book HTTP/1.1', 'Host: x', 'Content-Type: application/json',
      'Expect: 100-continue', `Content-Length: ${bodyText.length}`])), latin1(bodyText)] })],
    [1, () => ({ name: 'unfinished-body', chunks: [latin1(crlf([`POST ${rng.pick(['/book', '/rooms', '/users/1'])} HTTP/1.1`, 'Host: x',
      'Content-Type: application/json', 'Content-Length: 100'])), latin1('{"name":"x')] })],
    [0.5, () => ({ name: 'unfinished-head', chunks: [latin1(rng.pick(['GET /ro', `GET ${path} HTTP/1.1\r\nHost: x\r\n`, 'P', '\r\n']))] })],
    [1, () => ({ name: 'nul-bytes', chunks: [Buffer.concat([latin1(`${method} ${path}`), Buffer.alloc(rng.int(1, 200)), latin1(' HTTP/1.1\r\n\r\n')])] })],
  ]);
  const built = variant();
  return { transport: 'raw', index, family: `raw:${built.name}`, route, chunks: built.chunks, mayPass: built.mayPass ?? false };
}

// ---------------------------------------------------------------------------------------------

const FAMILIES: [number, (index: number, rng: Rng, ctx: FuzzContext) => FuzzCase][] = [
  [24, bookingFamily],
  [16, namedBodyFamily],
  [5, contentTypeFamily],
  [3, oversizeFamily],
  [12, pathIdFamily],
  [14, queryFamily],
  [8, methodFamily],
  [6, authFamily],
  [5, readFamily],
  [7, rawFamily],
];

/** Case `index` of the run seeded `seed`: the same inputs give the same case. */
export function caseAt(seed: number, index: number, ctx: FuzzContext): FuzzCase {
  const rng = new Rng(caseSeed(seed, index));
  const family = rng.weighted(FAMILIES.map(([weight, build]) => [weight, build] as const));
  return family(index, rng, ctx);
}

/** A one-line description of a case, enough to replay it by hand. */
export function describeCase(c: FuzzCase): string {
  const show = (buffer: Buffer) => {
    const start = buffer.subarray(0, 300);
    const utf8 = Buffer.from(start.toString('utf8')).equals(start);
    return JSON.stringify(start.toString(utf8 ? 'utf8' : 'latin1')) + (utf8 ? '' : ' (latin1)') + (buffer.length > 300 ? ` …${buffer.length} bytes` : '');
  };
  if (c.transport === 'raw') return `#${c.index} ${c.family} raw ${show(Buffer.concat(c.chunks))}`;
  const headers = JSON.stringify(c.headers).slice(0, 300);
  return `#${c.index} ${c.family} ${c.method} ${c.path.slice(0, 300)} ${headers}${c.chunked ? ' chunked' : ''}${c.body ? ` body ${show(c.body)}` : ''}`;
}
