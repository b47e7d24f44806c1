/**
 * A database that refuses writes on connections that stay up: a server made read-only
 * (default_transaction_read_only, as for maintenance, or a standby that the database address names
 * after a failover). Bookings are answered 503 db_unavailable with Retry-After, not 500, and the
 * log names the SQLSTATE once instead of a line per request; once writes are allowed again, the
 * next booking goes through on a connection opened anew.
 */
import type postgres from 'postgres';
import { connect, createDatabase } from '../helpers/database';
import { startServer, type RunningServer } from '../helpers/server';
import { client, dayFromToday } from '../helpers/http';
import { waitFor } from '../helpers/wait';

let server: RunningServer;
let database: Awaited<ReturnType<typeof createDatabase>>;
let sql: postgres.Sql;

beforeAll(async () => {
  database = await createDatabase();
  server = await startServer({ databaseUrl: database.url, workers: 1 });
  sql = connect(database.url);
});
afterAll(async () => {
  await sql?.end();
  await server?.stop();
  await database?.drop();
});

test('bookings on a read-only database are 503 db_unavailable with Retry-After, logged by SQLSTATE; writable again, they are made', async () => {
  const api = client(server.url);
  expect((await api.post('/rooms', { name: 'ronly1' })).status).toBe(201);
  expect((await api.post('/users', { name: 'ronly-user' })).status).toBe(201);
  const booking = (days: number) => ({ room_name: 'RONLY1', user_name: 'ronly-user', date: dayFromToday(days) });

  // Sessions that start from here on are read-only: end the booking connection, which reconnects.
  await sql.unsafe(`ALTER DATABASE ${database.name} SET default_transaction_read_only = on`);
  const bookingSessions = () => sql`SELECT pid FROM pg_stat_activity
    WHERE datname = ${database.name} AND application_name = 'roombook-bookings'`;
  const before = await bookingSessions();
  expect(before.length).toBe(1); // opened when the worker started
  await sql`SELECT pg_terminate_backend(${before[0].pid})`;
  await waitFor('the booking connection to end', async () => (await bookingSessions()).length === 0, 5000);
  const refused = await Promise.all([1, 2, 3].map((days) => api.post('/book', booking(days))));
  for (const answer of refused) {
    expect(answer.status).toBe(503);
    expect(answer.body).toEqual({ error: 'db_unavailable', message: expect.any(String) });
    expect(answer.headers.get('retry-after')).toBe('1');
  }
  expect(await sql`SELECT id FROM bookings`).toEqual([]);
  await waitFor('the 503\'s SQLSTATE in the log',
    () => /"message":"answering 503: the database cannot serve","code":"25006"/.test(server.logs()), 2000);
  expect(server.logs()).not.toContain('request failed'); // the log line of a 500

  await sql.unsafe(`ALTER DATABASE ${database.name} RESET default_transaction_read_only`);
  const made = await api.post('/book', booking(1));
  expect(made.status).toBe(201);
  expect((await sql`SELECT count(*)::int AS n FROM bookings`)[0].n).toBe(1);
});
