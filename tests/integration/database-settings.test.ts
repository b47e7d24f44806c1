/**
 * The real server on databases whose session defaults are not PostgreSQL's: an external
 * DATABASE_URL server may set timeouts per database or role (ALTER DATABASE/ROLE ... SET), which
 * every session of roombook's would otherwise inherit. (DateStyle and TimeZone: dates.test.ts.)
 */
import crypto from 'node:crypto';
import { connect, createDatabase, databaseUrl, serverUrl } from '../helpers/database';
import { collect, runMain, startServer, type RunningServer } from '../helpers/server';
import { client } from '../helpers/http';
import { scrape, total } from '../helpers/metrics';

type Database = Awaited<ReturnType<typeof createDatabase>>;
const started: { server?: RunningServer; database: Database }[] = [];

/** A database of its own (dropped at the end) with `settings` (ALTER DATABASE ... SET each). */
async function databaseWith(settings: string[]) {
  const database = await createDatabase();
  const entry: (typeof started)[number] = { database };
  started.push(entry);
  const admin = connect(database.url);
  for (const setting of settings) await admin.unsafe(`ALTER DATABASE ${database.name} SET ${setting}`);
  await admin.end();
  return { database, entry };
}

/** The server on a database of its own with `settings`. */
async function serve(settings: string[]) {
  const { database, entry } = await databaseWith(settings);
  entry.server = await startServer({ databaseUrl: database.url });
  return { api: client(entry.server.url), server: entry.server, database };
}

const roles: string[] = [];

afterAll(async () => {
  for (const { server, database } of started) {
    await server?.stop();
    await database.drop();
  }
  const admin = connect(serverUrl());
  for (const role of roles) await admin.unsafe(`DROP ROLE IF EXISTS ${role}`);
  await admin.end();
});

/** Holds a lock on bookings for `ms` through a connection of the test's, once `whileHeld` has started. */
async function withBookingsLocked(url: string, ms: number, whileHeld: () => Promise<unknown>): Promise<unknown> {
  const sql = connect(url);
  let answer: Promise<unknown> | undefined;
  try {
    await sql.begin(async (tx) => {
      await tx`LOCK TABLE bookings IN ACCESS EXCLUSIVE MODE`;
      answer = whileHeld();
      await new Promise((resolve) => setTimeout(resolve, ms));
    });
    return await answer;
  } finally {
    await sql.end();
  }
}

test.each([
  ["lock_timeout = '50ms'"],
  ["statement_timeout = '50ms'"],
])('with %s on the database, a room delete waits for a lock held 400 ms and succeeds', async (setting) => {
  const { api, database } = await serve([setting]);
  const room = (await api.post('/rooms', { name: 'locked' })).body;
  expect(room.id).toBeDefined();
  const deleted = await withBookingsLocked(database.url, 400, () => api.del(`/rooms/${room.id}`)) as { status: number; body: unknown };
  expect([deleted.status, deleted.body]).toEqual([204, undefined]);
  expect((await api.get(`/rooms/${room.id}`)).status).toBe(404);
});

// A DATABASE_URL's own parameters override roombook's startup settings: an operator who asks for a
// lock_timeout gets it, and a wait that runs out is the database unable to serve now, not a 500.
test('with ?lock_timeout=50 in DATABASE_URL, a room delete behind a lock held 400 ms is 503 db_unavailable with Retry-After', async () => {
  const { database, entry } = await databaseWith([]);
  entry.server = await startServer({ databaseUrl: `${database.url}?lock_timeout=50` });
  const api = client(entry.server.url);
  const room = (await api.post('/rooms', { name: 'impatient' })).body;
  const deleted = await withBookingsLocked(database.url, 400, () => api.del(`/rooms/${room.id}`)) as { status: number; body: { error?: string }; headers: Headers };
  expect([deleted.status, deleted.body?.error, deleted.headers.get('retry-after')]).toEqual([503, 'db_unavailable', '1']);
  expect((await api.del(`/rooms/${room.id}`)).status).toBe(204); // once the lock is gone
});

// roombook's statements are written for READ COMMITTED: the room delete locks bookings and then
// reads, and each booking statement is decided by the UNIQUE constraint. A database whose default
// isolation is SERIALIZABLE made them fail with serialization failures (40001), answered 503.
describe("with default_transaction_isolation = 'serializable' on the database", () => {
  test('a room delete that waits for a rename to commit deletes the renamed room: 204, not 503', async () => {
    const { api, database } = await serve(["default_transaction_isolation = 'serializable'"]);
    const room = (await api.post('/rooms', { name: 'serial' })).body;
    const renamer = connect(database.url);
    try {
      let deleted: Promise<{ status: number; body: unknown }> | undefined;
      await renamer.begin(async (tx) => {
        await tx`UPDATE rooms SET name = 'SERIAL2' WHERE id = ${room.id}`; // a rename in flight
        deleted = api.del(`/rooms/${room.id}`);
        await new Promise((resolve) => setTimeout(resolve, 300)); // the delete reaches the row and waits for it
      });
      const answer = await deleted!;
      expect([answer.status, answer.body]).toEqual([204, undefined]);
      expect((await api.get(`/rooms/${room.id}`)).status).toBe(404);
    } finally {
      await renamer.end();
    }
  });
});

test('a search_path that finds another schema before the migrated one stops the start, naming search_path', async () => {
  const { database } = await databaseWith([]);
  const first = await startServer({ databaseUrl: database.url }); // migrates into public
  await first.stop();
  const admin = connect(database.url);
  await admin.unsafe('CREATE SCHEMA other; CREATE TABLE other.rooms (id integer, name text)');
  await admin.unsafe(`ALTER DATABASE ${database.name} SET search_path = other, public`);
  await admin.end();
  const { code, output } = await collect(runMain({ DATABASE_URL: database.url, PORT: '0' }));
  expect(code).toBe(1);
  expect(output).toContain('cannot start: search_path is other, public: roombook\'s tables go in schema other, but it finds table');
});

test('a role that may only read and write the tables another role migrated runs the service', async () => {
  const { database } = await databaseWith([]);
  const first = await startServer({ databaseUrl: database.url }); // migrated by the tests' role, which owns the tables
  await first.stop();
  const role = `roombook_app_${crypto.randomBytes(4).toString('hex')}`;
  roles.push(role);
  const admin = connect(database.url);
  await admin.unsafe(`CREATE ROLE ${role} LOGIN PASSWORD 'app-password'`);
  await admin.unsafe(`REVOKE CREATE ON SCHEMA public FROM PUBLIC; GRANT USAGE ON SCHEMA public TO ${role};
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
  await admin.end();
  const url = new URL(database.url);
  [url.username, url.password] = [role, 'app-password'];
  const entry = started.find((each) => each.database === database)!;
  entry.server = await startServer({ databaseUrl: url.toString() });
  const api = client(entry.server.url);
  const room = (await api.post('/rooms', { name: 'lowly' })).body;
  const user = (await api.post('/users', { name: 'lowly' })).body;
  const booked = await api.post('/bookings', { room_id: room.id, user_id: user.id, date: '2030-01-01' });
  expect(booked.status).toBe(201);
  expect((await api.del(`/bookings/${booked.body.id}`, { 'X-Cancel-Token': booked.body.cancel_token })).status).toBe(204);
});

/** A database in `encoding` (C locale), dropped at the end, and the server on it. */
async function serveEncoded(encoding: string) {
  const name = `roombook_test_${crypto.randomBytes(5).toString('hex')}`;
  const admin = connect(serverUrl());
  await admin.unsafe(`CREATE DATABASE ${name} ENCODING '${encoding}' LOCALE 'C' TEMPLATE template0`);
  await admin.end();
  const drop = async () => {
    const again = connect(serverUrl());
    await again.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await again.end();
  };
  const entry: (typeof started)[number] = { database: { name, url: databaseUrl(name), drop } };
  started.push(entry);
  entry.server = await startServer({ databaseUrl: entry.database.url });
  return client(entry.server.url);
}

test('in a LATIN1 database, a name with a character LATIN1 lacks is a 400 and is not found, not a 500', async () => {
  const api = await serveEncoded('LATIN1');
  expect((await api.post('/rooms', { name: 'café' })).body).toEqual({ id: 1, name: 'CAFÉ' });
  const refused = await api.post('/users', { name: 'łukasz' });
  expect([refused.status, refused.body.error]).toEqual([400, 'invalid_name']);
  expect((await api.post('/users', { name: 'lukasz' })).status).toBe(201);
  const renamed = await api.patch('/rooms/1', { name: 'łódź' });
  expect([renamed.status, renamed.body.error]).toEqual([400, 'invalid_name']);
  const booked = await api.post('/book', { room_name: 'café', user_name: 'łukasz', date: '2030-01-01' });
  expect([booked.status, booked.body.error]).toEqual([409, 'user_not_found']);
});

test('in a SQL_ASCII database, which counts bytes, a name of 16 two-byte characters is a 400, not a 500', async () => {
  const api = await serveEncoded('SQL_ASCII');
  expect((await api.post('/rooms', { name: 'café' })).body).toEqual({ id: 1, name: 'CAFÉ' });
  const refused = await api.post('/rooms', { name: 'é'.repeat(16) });
  expect([refused.status, refused.body.error]).toEqual([400, 'invalid_name']);
  expect((await api.post('/rooms', { name: 'é'.repeat(8) })).status).toBe(201);
});

test('with idle_session_timeout = 1s on the database, idle connections stay open: no cache reloads, no 503', async () => {
  const admin = connect(serverUrl());
  const [{ known }] = await admin<{ known: boolean }[]>`SELECT current_setting('idle_session_timeout', true) IS NOT NULL AS known`;
  await admin.end();
  if (!known) { // PostgreSQL 13 has no such setting (and roombook asks for none there: every other test of this run started on it)
    console.log('[settings] idle_session_timeout: this server has no such setting (PostgreSQL 13); nothing to test');
    return;
  }
  const { api, server } = await serve(["idle_session_timeout = '1s'"]);
  const user = (await api.post('/users', { name: 'idler' })).body;
  const room = (await api.post('/rooms', { name: 'idler' })).body;
  const reloads = async () => total(await scrape(server.metricsUrl), 'roombook_cache_reloads_total');
  const before = await reloads();
  await new Promise((resolve) => setTimeout(resolve, 3500)); // past the listener's 1 s idle, before its 5 s check
  const statuses = [];
  for (let i = 0; i < 6; i++) statuses.push((await api.get('/ready')).status, (await api.get(`/rooms/${room.id}`)).status);
  statuses.push((await api.post('/bookings', { room_id: room.id, user_id: user.id, date: '2030-01-01' })).status);
  expect(statuses).toEqual([...Array(12).fill(200), 201]);
  expect(await reloads()).toBe(before);
});
