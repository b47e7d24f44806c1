import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import type postgres from 'postgres';
import { catalogue } from '../../src/errors';
import { connect, createDatabase } from '../helpers/database';
import { startServer, type RunningServer } from '../helpers/server';
import { call } from '../helpers/http';
import { caseAt, describeCase, ROUTES, type FuzzCase, type FuzzContext, type HttpCase, type RawCase } from '../helpers/fuzz-cases';

/**
 * Fuzz: ten thousand generated requests that should all be refused, against the real cluster.
 * Every answer must be a 4xx with a catalogue {error, message} body (raw-socket protocol garbage
 * may instead be cut off), nothing may be a 5xx, no worker may die, no error may be logged, and
 * the rows must be exactly as before (except what the few tracked 2xx created).
 *
 * Replay: FUZZ_SEED=<seed printed below> [FUZZ_COUNT=n] [FUZZ_ONLY=i,j] npx jest tests/faults/fuzz.test.ts
 */
jest.setTimeout(120_000);

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) >>> 0 : crypto.randomInt(2 ** 32);
const COUNT = process.env.FUZZ_COUNT !== undefined ? Number(process.env.FUZZ_COUNT) : 10_000;
const ONLY = process.env.FUZZ_ONLY?.split(',').map(Number);
const HTTP_CONCURRENCY = 32;
const RAW_CONCURRENCY = 48;
const RAW_QUIET_MS = 600; // no answer and no close for this long: left to the server's idle timeout
const CUT_OFF_MS = 15_000; // uWS closes idle HTTP connections after ~10 s
const ADMIN_TOKEN = 'fuzz-admin-token-0123456789';
const MAX_BODY_BYTES = 16384;
const CODES = new Set(Object.keys(catalogue));
const log = (line: string) => process.stdout.write(`[fuzz seed=${SEED}] ${line}\n`);

let server: RunningServer;
let database: Awaited<ReturnType<typeof createDatabase>>;
let sql: postgres.Sql;
let context: FuzzContext;

beforeAll(async () => {
  log(`replay with FUZZ_SEED=${SEED}${process.env.FUZZ_COUNT ? ` FUZZ_COUNT=${COUNT}` : ''}`);
  database = await createDatabase();
  sql = connect(database.url);
  server = await startServer({ databaseUrl: database.url, workers: 2,
    env: { ADMIN_TOKEN, MAX_BODY_BYTES: String(MAX_BODY_BYTES), LOG_LEVEL: 'info' } });
  context = await seedRows(server.url);
});
afterAll(async () => {
  await server?.stop();
  await sql?.end();
  await database?.drop();
});

/** The rows the fuzz tries to damage: made through the API, like any client would. */
async function seedRows(base: string): Promise<FuzzContext> {
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const made = async (path: string, body: unknown) => {
    const answer = await call(base, 'POST', path, body, admin);
    if (answer.status !== 201) throw new Error(`seeding ${path} ${JSON.stringify(body)}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  };
  const rooms = [];
  for (const name of ['ALPHA1', 'BRAVO-2', 'C3PO', 'DELTA_4', 'ECHO 5', 'ÉTÉ-6']) rooms.push(await made('/rooms', { name }));
  const users = [];
  for (const name of ['alice', 'bob.b', 'carol-c', 'dave_d', 'eve e', 'zoë']) users.push(await made('/users', { name }));
  const bookings = [];
  // Fixed days far ahead (not "today + n"): the same seed builds the same cases on any day.
  const day = (offset: number) => new Date(Date.UTC(2098, 0, 1 + offset)).toISOString().slice(0, 10);
  for (let i = 0; i < 12; i++) {
    const booking = await made('/bookings', { room_id: rooms[i % rooms.length].id, user_id: users[(i * 5) % users.length].id,
      date: day(i * 7) });
    bookings.push({ id: booking.id, room_id: booking.room_id, user_id: booking.user_id, date: booking.date });
  }
  return { adminToken: ADMIN_TOKEN, maxBodyBytes: MAX_BODY_BYTES, rooms, users, bookings };
}

// ---------------------------------------------------------------------------------------------
// What the database holds, and who serves

interface Created { rooms: Set<number>; users: Set<number>; bookings: Set<number> }

/** Every row, minus those the tracked 2xx created; with a count and a checksum per table. */
async function snapshot(created: Created) {
  const tables = {
    rooms: (await sql`SELECT id, name FROM rooms ORDER BY id`).filter((row) => !created.rooms.has(row.id)),
    users: (await sql`SELECT id, name FROM users ORDER BY id`).filter((row) => !created.users.has(row.id)),
    bookings: (await sql`SELECT id::int AS id, room_id, user_id, day::text AS day, created_at::text AS created_at
      FROM bookings ORDER BY id`).filter((row) => !created.bookings.has(row.id)),
    settings: await sql`SELECT key, md5(value) AS value FROM roombook_settings ORDER BY key`,
  };
  const summary = Object.fromEntries(Object.entries(tables).map(([name, rows]) =>
    [name, { count: rows.length, checksum: crypto.createHash('sha256').update(JSON.stringify(rows)).digest('hex').slice(0, 16) }]));
  return { tables, summary };
}

function childPids(pid: number): number[] {
  try {
    return execFileSync('ps', ['--ppid', String(pid), '-o', 'pid='], { encoding: 'utf8' })
      .split('\n').map((line) => line.trim()).filter(Boolean).map(Number).sort((a, b) => a - b);
  } catch {
    return []; // ps exits 1 when there are none
  }
}

// ---------------------------------------------------------------------------------------------
// Sending

interface Answer { status: number; contentType: string; body: Buffer; ms: number }
type Outcome = { answer: Answer } | { error: Error & { code?: string }; reused: boolean; previous?: string };

/** The last case answered on each kept-alive socket: a reset on reuse is blamed on it. */
const lastCaseOn = new WeakMap<net.Socket, string>();

function sendHttp(c: HttpCase, agent: http.Agent | false): Promise<Outcome> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { ...c.headers };
    if (c.body && c.chunked) headers['transfer-encoding'] = 'chunked';
    else if (c.body) headers['content-length'] = String(c.body.length);
    const started = performance.now();
    let request: http.ClientRequest;
    try {
      request = http.request({ host: '127.0.0.1', port: server.port, method: c.method, path: c.path, headers, agent });
    } catch (error) {
      resolve({ error: error as Error, reused: false }); // the generator built something node:http refuses
      return;
    }
    request.setTimeout(CUT_OFF_MS, () => request.destroy(Object.assign(new Error('no answer within 15 s'), { code: 'HANG' })));
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => lastCaseOn.set(request.socket!, describeCase(c)));
      response.on('end', () => resolve({ answer: { status: response.statusCode!, contentType: String(response.headers['content-type'] ?? ''),
        body: Buffer.concat(chunks), ms: performance.now() - started } }));
      response.on('error', (error) => resolve({ error, reused: request.reusedSocket }));
    });
    request.on('error', (error) => resolve({ error, reused: request.reusedSocket,
      previous: request.socket ? lastCaseOn.get(request.socket) : undefined }));
    if (c.body) request.end(c.body);
    else request.end();
  });
}

interface RawResult { kind: 'answered' | 'closed'; answer?: Answer; lingered?: number }

/** The first complete response in `data`, if there is one. */
function parseResponse(data: Buffer): Answer | 'garbage' | undefined {
  // Interim answers (100 Continue) come first: the final one is what counts.
  while (/^HTTP\/1\.[01] 1\d\d /.test(data.subarray(0, 13).toString('latin1')) && data.indexOf('\r\n\r\n') >= 0) {
    data = data.subarray(data.indexOf('\r\n\r\n') + 4);
  }
  const start = data.subarray(0, 7).toString('latin1');
  if (!'HTTP/1.'.startsWith(start)) return 'garbage';
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = data.subarray(0, end).toString('latin1');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(head);
  if (!status) return 'garbage';
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
  if (data.length < end + 4 + length) return undefined;
  return { status: Number(status[1]), contentType: /\r\ncontent-type: *([^\r]*)/i.exec(head)?.[1] ?? '',
    body: data.subarray(end + 4, end + 4 + length), ms: 0 };
}

/**
 * Writes the chunks, then waits for an answer or the server closing the connection. Silence for
 * RAW_QUIET_MS frees the slot: the socket is then left to the server's idle timeout (`lingering`).
 */
function sendRaw(c: RawCase, lingering: Promise<string | undefined>[], lateAnswer: (answer: Answer) => void)
  : Promise<RawResult | string> {
  return new Promise((resolve) => {
    const socket = net.connect(server.port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let settled = false;
    let lastWrite = Date.now();
    let quiet: NodeJS.Timeout | undefined;
    let onClose: ((kind: RawResult['kind']) => void) | undefined;
    const finish = (result: RawResult | string) => {
      if (settled) return;
      settled = true;
      clearTimeout(quiet);
      resolve(result);
    };
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const answer = parseResponse(data);
      if (answer === 'garbage') finish(`not an HTTP response: ${JSON.stringify(data.subarray(0, 200).toString('latin1'))}`);
      else if (answer) {
        if (settled) lateAnswer(answer); // after the quiet time: judged all the same
        finish({ kind: 'answered', answer });
      }
      if (answer) socket.destroy();
    });
    socket.on('error', () => {}); // a reset is the server cutting us off: 'close' follows
    socket.on('close', () => {
      if (onClose) onClose('closed');
      finish({ kind: 'closed' });
    });
    socket.on('connect', async () => {
      for (const chunk of c.chunks) {
        if (socket.destroyed) return;
        socket.write(chunk);
        lastWrite = Date.now();
        await new Promise((r) => setTimeout(r, 2));
      }
      if (settled) return;
      quiet = setTimeout(() => {
        // Still open and silent: the server must cut it within CUT_OFF_MS of our last byte.
        lingering.push(new Promise((done) => {
          const deadline = setTimeout(() => {
            socket.destroy();
            done(`${describeCase(c)}: not answered and not closed ${CUT_OFF_MS} ms after the last byte`);
          }, CUT_OFF_MS - (Date.now() - lastWrite));
          onClose = () => {
            clearTimeout(deadline);
            done(undefined);
          };
        }));
        finish({ kind: 'closed', lingered: Date.now() - lastWrite });
      }, RAW_QUIET_MS);
    });
  });
}

/** Runs `task` over `items` with at most `limit` at once. */
async function pool<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await task(items[next++]);
  }));
}

// ---------------------------------------------------------------------------------------------
// Judging one answer

/** Why this answer is wrong for this case, or undefined. */
function judge(c: FuzzCase, answer: Answer): string | undefined {
  const { status } = answer;
  if (status >= 500) return `${status} (server error): ${answer.body.toString().slice(0, 300)}`;
  if (status < 200 || (status >= 300 && status < 400)) return `unexpected status ${status}`;
  if (status < 300) return c.mayPass ? undefined : `accepted with ${status}: ${answer.body.toString().slice(0, 200)}`;
  if (c.transport === 'http' && c.method === 'HEAD') return answer.body.length === 0 ? undefined : 'a HEAD answer with a body';
  if (!/^application\/json/.test(answer.contentType)) return `${status} with Content-Type ${JSON.stringify(answer.contentType)}`;
  let body: { error?: unknown; message?: unknown };
  try {
    body = JSON.parse(answer.body.toString('utf8'));
  } catch {
    return `${status} body is not JSON: ${JSON.stringify(answer.body.toString('latin1').slice(0, 200))}`;
  }
  if (typeof body?.error !== 'string' || !CODES.has(body.error)) return `${status} error ${JSON.stringify(body?.error)} is not in the catalogue`;
  if (typeof body.message !== 'string') return `${status} ${body.error} without a message`;
  const expected = catalogue[body.error as keyof typeof catalogue][0];
  if (expected !== status) return `${status} with error ${body.error}, which the catalogue maps to ${expected}`;
  return undefined;
}

/** What a tracked 2xx created: its id is left out of the unchanged-rows check. */
function track(c: FuzzCase, answer: Answer, created: Created): void {
  if (answer.status !== 201) return;
  const id = (JSON.parse(answer.body.toString()) as { id: number }).id;
  if (c.route === 'POST /rooms') created.rooms.add(id);
  else if (c.route === 'POST /users') created.users.add(id);
  else if (c.route === 'POST /book' || c.route === 'POST /bookings') created.bookings.add(id);
}

const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
const table = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}=${v}`).join(' ');

// ---------------------------------------------------------------------------------------------

test(`${ONLY?.length ?? COUNT} generated bad requests: all 4xx (or cut off), no 5xx, no dead worker, no changed row`, async () => {
  const primary = server.process.pid!;
  const workersBefore = childPids(primary);
  expect(workersBefore).toHaveLength(2);
  const created: Created = { rooms: new Set(), users: new Set(), bookings: new Set() };
  const before = await snapshot(created);

  const indices = ONLY ?? Array.from({ length: COUNT }, (_, i) => i);
  const cases = indices.map((index) => caseAt(SEED, index, context));
  const httpCases = cases.filter((c): c is HttpCase => c.transport === 'http');
  const rawCases = cases.filter((c): c is RawCase => c.transport === 'raw');
  const agent = new http.Agent({ keepAlive: true, maxSockets: HTTP_CONCURRENCY });
  const failures: string[] = [];
  const statuses = new Map<string, number>();
  const families = new Map<string, number>();
  const routes = new Map<string, number>();
  const rawResults = new Map<string, number>();
  const lingering: Promise<string | undefined>[] = [];
  let sent = 0;
  const retried: string[] = [];
  let slowest = 0;
  let passed = 0;
  let httpMs = 0;
  const started = Date.now();

  const onAnswer = (c: FuzzCase, answer: Answer) => {
    count(statuses, String(answer.status));
    slowest = Math.max(slowest, answer.ms);
    const problem = judge(c, answer);
    if (ONLY) log(`${describeCase(c)}\n    -> ${answer.status} ${answer.body.toString().slice(0, 300)}`);
    if (problem) failures.push(`${describeCase(c)}\n    -> ${problem}`);
    else if (answer.status < 300) {
      passed++;
      track(c, answer, created);
    }
  };

  await Promise.all([
    pool(httpCases, HTTP_CONCURRENCY, async (c) => {
      sent++;
      count(families, c.family);
      count(routes, c.route);
      let outcome = await sendHttp(c, agent);
      // A kept-alive socket the server closed just as we reused it: node's documented retry case.
      if ('error' in outcome && outcome.reused && ['ECONNRESET', 'EPIPE'].includes(outcome.error.code ?? '')) {
        retried.push(`${describeCase(c)}\n    after ${outcome.previous ?? '(unknown)'}`);
        outcome = await sendHttp(c, false);
      }
      // A body far over the limit (at most 60 times MAX_BODY_BYTES here) is read to its end before
      // the 413 closes the connection: its sender gets the 413, never a reset while still writing.
      if ('error' in outcome) failures.push(`${describeCase(c)}\n    -> no answer: ${outcome.error.code ?? ''} ${outcome.error.message}`);
      else onAnswer(c, outcome.answer);
    }).then(() => (httpMs = Date.now() - started)),
    pool(rawCases, RAW_CONCURRENCY, async (c) => {
      sent++;
      count(families, c.family);
      count(routes, c.route);
      const result = await sendRaw(c, lingering, (answer) => onAnswer(c, answer));
      if (typeof result === 'string') {
        failures.push(`${describeCase(c)}\n    -> ${result}`);
        return;
      }
      count(rawResults, result.lingered !== undefined ? 'left-to-idle-timeout' : result.kind);
      if (result.answer) onAnswer(c, result.answer);
    }),
  ]);
  const sendingMs = Date.now() - started;
  agent.destroy();
  for (const problem of await Promise.all(lingering)) if (problem) failures.push(problem);
  const elapsedMs = Date.now() - started;

  // The same primary and the same workers, none died, nothing logged as an error (a 500 the client never saw).
  const workersAfter = childPids(primary);
  const logs = server.logs();
  const errorLines = logs.split('\n').filter((line) => /"level":"(error|fatal)"|worker died/.test(line));
  const after = await snapshot(created);

  log(`${sent} requests (${httpCases.length} node:http in ${(httpMs / 1000).toFixed(1)} s, ${rawCases.length} raw) in ${(sendingMs / 1000).toFixed(1)} s` +
    ` (+${((elapsedMs - sendingMs) / 1000).toFixed(1)} s for ${lingering.length} idle sockets to be cut), ${retried.length} retried on a fresh socket`);
  if (retried.length) log(`reset on reuse, retried:\n  ${retried.slice(0, 10).join('\n  ')}`);
  log(`statuses: ${table(statuses)}; slowest answer ${slowest.toFixed(0)} ms; 2xx allowed and tracked: ${passed}` +
    ` (created rooms ${created.rooms.size}, users ${created.users.size}, bookings ${created.bookings.size})`);
  log(`raw sockets: ${table(rawResults)}`);
  log(`families: ${table(families)}`);
  log(`routes: ${table(routes)}`);
  log(`rows before: ${JSON.stringify(before.summary)}`);
  log(`rows after:  ${JSON.stringify(after.summary)}`);
  log(`workers: primary ${primary}, before ${workersBefore.join(',')}, after ${workersAfter.join(',')}`);
  if (failures.length) log(`${failures.length} failures; the first 40:\n  ${failures.slice(0, 40).join('\n  ')}`);
  if (errorLines.length) log(`server error lines:\n  ${errorLines.slice(0, 20).join('\n  ')}`);

  if (!ONLY) {
    expect(sent).toBeGreaterThanOrEqual(process.env.FUZZ_COUNT !== undefined ? COUNT : 10_000);
    for (const route of ROUTES) expect({ route, covered: (routes.get(route) ?? 0) > 0 }).toEqual({ route, covered: true });
  }
  expect(failures).toEqual([]);
  expect([...statuses.keys()].filter((status) => Number(status) >= 500)).toEqual([]);
  expect(errorLines).toEqual([]);
  expect(server.process.exitCode).toBeNull();
  expect(workersAfter).toEqual(workersBefore);
  expect(after.tables).toEqual(before.tables);
});

test('slow and idle clients are cut off, and do not hold up anyone else', async () => {
  const stuck: { name: string; bytes: string }[] = [
    { name: 'body that never finishes', bytes: 'POST /book HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"room_nam' },
    { name: 'half a request line', bytes: 'GET /roo' },
    { name: 'head without its blank line', bytes: 'GET /rooms HTTP/1.1\r\nHost: x\r\n' },
    { name: 'nothing at all', bytes: '' },
  ];
  const sockets = stuck.flatMap((kind) => Array.from({ length: 10 }, () => {
    const socket = net.connect(server.port, '127.0.0.1');
    const start = Date.now();
    let received = '';
    const closed = new Promise<{ name: string; ms: number; received: string }>((resolve) => {
      socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
      socket.on('error', () => {});
      socket.on('close', () => resolve({ name: kind.name, ms: Date.now() - start, received }));
    });
    socket.on('connect', () => kind.bytes && socket.write(kind.bytes));
    return { socket, closed };
  }));

  // 40 stuck connections: 300 ordinary requests still get through at once.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const get = (path: string) => new Promise<{ status: number; ms: number }>((resolve, reject) => {
    const started = performance.now();
    http.get({ host: '127.0.0.1', port: server.port, path, agent }, (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode!, ms: performance.now() - started }));
    }).on('error', reject);
  });
  const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => get(['/health', '/rooms', `/rooms/${context.rooms[0].id}`, '/bookings?limit=5'][i % 4])));
  agent.destroy();
  expect(answers.every((a) => a.status === 200)).toBe(true);
  const slowest = Math.max(...answers.map((a) => a.ms));
  expect(slowest).toBeLessThan(5_000); // a request stuck behind them would wait ~10 s

  const timer = setTimeout(() => sockets.forEach(({ socket }) => socket.destroy()), CUT_OFF_MS + 1000);
  const results = await Promise.all(sockets.map(({ closed }) => closed));
  clearTimeout(timer);
  const byKind = new Map<string, number[]>();
  for (const result of results) byKind.set(result.name, [...(byKind.get(result.name) ?? []), result.ms]);
  log(`300 requests beside 40 stuck connections, slowest ${slowest.toFixed(0)} ms; stuck connections closed by the server after: ` +
    [...byKind].map(([name, ms]) => `${name} ${Math.min(...ms)}-${Math.max(...ms)} ms`).join('; '));
  for (const result of results) {
    // Cut off (or answered with a 4xx) within 15 s, never left open.
    expect({ name: result.name, cutInTime: result.ms <= CUT_OFF_MS }).toEqual({ name: result.name, cutInTime: true });
    if (result.received) expect(result.received).toMatch(/^HTTP\/1\.1 4\d\d /);
  }
});

test('a HEAD answer has no body, so the connection stays usable', async () => {
  for (const [path, status] of [['/rooms', 200], ['/nowhere', 404], [`/rooms/${context.rooms[0].id}`, 200], ['/book', 405]] as const) {
    const socket = net.connect(server.port, '127.0.0.1');
    let data = '';
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`HEAD ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    while (!data.includes('\r\n\r\n')) await new Promise((resolve) => setTimeout(resolve, 5));
    socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    const deadline = Date.now() + 2000;
    while ((data.match(/\r\n\r\n/g) ?? []).length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    socket.destroy();
    const [headAnswer, rest] = [data.slice(0, data.indexOf('\r\n\r\n') + 4), data.slice(data.indexOf('\r\n\r\n') + 4)];
    expect(headAnswer).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(rest).toMatch(/^HTTP\/1\.1 200 OK\r\n/); // no body bytes between the two answers
  }
});

test('the server stops cleanly afterwards: no request left counted as in flight', async () => {
  const stoppedAt = Date.now();
  expect(await server.stop()).toBe(0);
  const logs = server.logs();
  log(`graceful stop took ${Date.now() - stoppedAt} ms`);
  expect(logs).not.toMatch(/stopping with requests still in flight/);
  expect(logs).not.toMatch(/worker died|"level":"error"/);
});
