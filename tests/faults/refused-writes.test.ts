/**
 * A database that refuses roombook while it is running, through no fault of the requests: writes
 * refused on connections that stay up (default_transaction_read_only, as for maintenance, or a
 * standby that the database address names after a failover), and new connections refused (the
 * role may no longer log in). Bookings are answered 503 db_unavailable with Retry-After, not 500,
 * and the log names the SQLSTATE once instead of a line per request; once the database accepts
 * roombook again, the next booking goes through on a connection opened anew. An error nobody
 * foresaw is a 500, and its log line too is written once per 10 s. roombook runs as a role of its
 * own, owner of its database, so that the test can change what the role may do.
 */
import crypto from 'node:crypto';
import postgres from 'postgres';
import { databaseUrl, endSessions, serverUrl } from '../helpers/database';
import { startServer, type RunningServer } from '../helpers/server';
import { client, dayFromToday } from '../helpers/http';
import { waitFor } from '../helpers/wait';

const ROLE = `roombook_refused_${crypto.randomBytes(4).toString('hex')}`;
const PASSWORD = crypto.randomBytes(12).toString('hex');

let admin: postgres.Sql; // superuser, on the server's own database
let sql: postgres.Sql; // superuser, on roombook's database
let server: RunningServer;
let days = 0;

beforeAll(async () => {
  admin = postgres(serverUrl(), { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}'`);
  await admin.unsafe(`CREATE DATABASE ${ROLE} OWNER ${ROLE}`);
  const url = new URL(databaseUrl(ROLE));
  url.username = ROLE;
  url.password = PASSWORD;
  // No listener checks during the tests: a ping that meets a read connection the test has just ended
  // fails and renews the read connections at a moment of its own. (A read-only database does not
  // refuse the ping: pg_notify() runs under default_transaction_read_only, checked on 15 and 18.)
  server = await startServer({ databaseUrl: url.toString(), workers: 1, env: { LISTENER_CHECK_MS: '600000' } });
  sql = postgres(databaseUrl(ROLE), { max: 1, onnotice: () => {} });
  const api = client(server.url);
  expect((await api.post('/rooms', { name: 'refused1' })).status).toBe(201);
  expect((await api.post('/users', { name: 'refused-user' })).status).toBe(201);
});
afterAll(async () => {
  await server?.stop();
  await sql?.end();
  await admin.unsafe(`DROP DATABASE IF EXISTS ${ROLE} WITH (FORCE)`);
  await admin.unsafe(`DROP ROLE IF EXISTS ${ROLE}`);
  await admin.end();
});

const book = () => client(server.url).post('/book', { room_name: 'REFUSED1', user_name: 'refused-user', date: dayFromToday(++days) });
const bookingCount = async () => (await sql`SELECT count(*)::int AS n FROM bookings`)[0].n;

const endBookingConnection = () => endSessions(sql, ROLE, 'roombook-bookings');

async function expectRefusedWith(sqlState: string): Promise<void> {
  const before = await bookingCount();
  const answers = await Promise.all([book(), book(), book()]);
  for (const answer of answers) {
    expect(answer.status).toBe(503);
    expect(answer.body).toEqual({ error: 'db_unavailable', message: expect.any(String) });
    expect(answer.headers.get('retry-after')).toBe('1');
  }
  expect(await bookingCount()).toBe(before);
  // The cause is logged once per 10 s: a refusal after an earlier one waits for the next window.
  const logged = new RegExp(`"message":"answering 503: the database cannot serve","code":"${sqlState}"`);
  await waitFor(`SQLSTATE ${sqlState} in the log`, async () => {
    if (logged.test(server.logs())) return true;
    expect((await book()).status).toBe(503); // refusals go on until the next window logs one
    return false;
  }, 12_000, 500);
  expect(server.logs()).not.toContain('request failed'); // the log line of a 500
}

test('bookings on a read-only database are 503 db_unavailable with Retry-After, logged by SQLSTATE; writable again, they are made', async () => {
  await sql.unsafe(`ALTER DATABASE ${ROLE} SET default_transaction_read_only = on`); // sessions from here on
  await endBookingConnection();
  await expectRefusedWith('25006');

  await sql.unsafe(`ALTER DATABASE ${ROLE} RESET default_transaction_read_only`);
  expect((await book()).status).toBe(201);
});

test('an admin write on a read-only database is 503; writable again, it is made at once on read connections renewed', async () => {
  const api = client(server.url);
  await sql.unsafe(`ALTER DATABASE ${ROLE} SET default_transaction_read_only = on`);
  await endSessions(sql, ROLE, 'roombook');
  // The first write may still meet a connection closed under it (503 too); the refusal follows. The
  // worker's log reaches this process through a pipe, maybe after the answer: no write is sent
  // before the previous one's line had time to come, so that none runs on the renewed connections.
  const renewed = () => server.logs().includes('was refused as read-only: read connections renewed');
  for (let attempt = 1; !renewed(); attempt++) {
    expect(attempt).toBeLessThanOrEqual(5);
    const refused = await api.post('/rooms', { name: 'refused2' });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    await waitFor('the renewal in the log', renewed, 1000).catch(() => {});
  }
  expect(await sql`SELECT id FROM rooms WHERE name = 'REFUSED2'`).toEqual([]);

  await sql.unsafe(`ALTER DATABASE ${ROLE} RESET default_transaction_read_only`);
  expect((await api.post('/rooms', { name: 'refused2' })).status).toBe(201);
});

test('a server started while the database is read-only listens, answers reads, and keeps the cancel tokens issued before', async () => {
  const booked = await book();
  expect(booked.status).toBe(201);
  const url = new URL(databaseUrl(ROLE));
  url.username = ROLE;
  url.password = PASSWORD;
  await sql.unsafe(`ALTER DATABASE ${ROLE} SET default_transaction_read_only = on`);
  let restarted: RunningServer | undefined;
  try {
    // The secret behind the cancel tokens is in the database already: reading it needs no write.
    restarted = await startServer({ databaseUrl: url.toString(), workers: 1, env: { LISTENER_CHECK_MS: '600000' } });
    const api = client(restarted.url);
    expect((await api.get(`/bookings/${booked.body.id}`)).status).toBe(200);
    await sql.unsafe(`ALTER DATABASE ${ROLE} RESET default_transaction_read_only`);
    // Its read connections opened read-only: the first cancel may be refused so (503), which renews them.
    await waitFor('the cancel with the token issued before the restart', async () => {
      const cancelled = await api.del(`/bookings/${booked.body.id}`, { 'x-cancel-token': booked.body.cancel_token });
      expect([204, 503]).toContain(cancelled.status);
      return cancelled.status === 204;
    }, 5000, 200);
  } finally {
    await sql.unsafe(`ALTER DATABASE ${ROLE} RESET default_transaction_read_only`);
    await restarted?.stop();
  }
});

test('bookings while the role may not log in are 503 db_unavailable with Retry-After, logged by SQLSTATE; allowed again, they are made', async () => {
  await admin.unsafe(`ALTER ROLE ${ROLE} NOLOGIN`);
  await endBookingConnection();
  await expectRefusedWith('28000');

  await admin.unsafe(`ALTER ROLE ${ROLE} LOGIN`);
  await waitFor('a booking to go through again', async () => (await book()).status === 201, 5000, 100);
});

test('an error nobody foresaw (the bookings table renamed away) is a 500, logged once per 10 s, not once per request', async () => {
  await sql`ALTER TABLE bookings RENAME TO bookings_away`;
  try {
    const answers = await Promise.all(Array.from({ length: 20 }, () => book()));
    expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(500));
    expect(answers[0].body).toEqual({ error: 'internal', message: expect.any(String) });
    await waitFor('the failure in the log', () => server.logs().includes('"message":"request failed"'), 2000);
    expect(server.logs().match(/"message":"request failed"/g)).toHaveLength(1);
    expect(server.logs()).toMatch(/"message":"request failed".*"code":"42P01"/);
  } finally {
    await sql`ALTER TABLE bookings_away RENAME TO bookings`;
  }
  expect((await book()).status).toBe(201);
});
