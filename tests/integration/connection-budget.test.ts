import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { endSessions, serverUrl } from '../helpers/database';
import { scratchDir } from '../helpers/leftover-clusters';
import { collect, runMain, startServer, type RunningServer } from '../helpers/server';
import { client, dayFromToday, shortForm } from '../helpers/http';
import { waitFor, within } from '../helpers/wait';

/**
 * The connection budget (src/db/connection-budget.ts) on a real server: roombook connects as a
 * role of its own whose CONNECTION LIMIT has room for one worker (a worker holds 4 connections
 * with the defaults), and owns its database. A CONNECTION LIMIT binds only non-superusers, which
 * is why the test makes a role rather than lowering the server's max_connections. The last test
 * runs roombook on an embedded PostgreSQL of its own, which roombook sizes.
 */
const LIMIT = 7; // one worker (4), not two (8)
const ROLE = `roombook_budget_${crypto.randomBytes(4).toString('hex')}`;
const PASSWORD = crypto.randomBytes(12).toString('hex');

let admin: postgres.Sql; // superuser, on the server's own database
let databaseUrl: string;
const closeLater: { end(): Promise<void> }[] = [];
let server: RunningServer | undefined;

beforeAll(async () => {
  admin = postgres(serverUrl(), { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}' CONNECTION LIMIT ${LIMIT}`);
  await admin.unsafe(`CREATE DATABASE ${ROLE} OWNER ${ROLE}`);
  const url = new URL(serverUrl());
  url.username = ROLE;
  url.password = PASSWORD;
  url.pathname = `/${ROLE}`;
  databaseUrl = url.toString();
});
afterAll(async () => {
  await server?.stop();
  await Promise.all(closeLater.map((sql) => sql.end()));
  await admin.unsafe(`DROP DATABASE IF EXISTS ${ROLE} WITH (FORCE)`);
  await admin.unsafe(`DROP ROLE IF EXISTS ${ROLE}`);
  await admin.end();
});

const connectionsOfRole = async (): Promise<number> =>
  (await admin`SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = ${ROLE}`)[0].n;

test('WORKERS chosen beyond the room: the start is refused with a message naming the limit and what to change', async () => {
  const primary = runMain({ DATABASE_URL: databaseUrl, WORKERS: '2', PORT: '0' });
  const { code, output } = await within(15_000, collect(primary), 'the primary to exit').finally(() => primary.kill('SIGKILL'));
  expect(code).toBe(1);
  expect(output).toContain('cannot start: not enough database connections: 2 workers × 4 connections '
    + '(DB_POOL_SIZE 2 + BATCH_MAX_IN_FLIGHT 1 + 1 LISTEN) = 8, but the database has room for 7 '
    + `(role ${ROLE}'s CONNECTION LIMIT 7, 0 in use): set WORKERS or DB_POOL_SIZE lower`);
  expect(await connectionsOfRole()).toBe(0); // nothing left behind
});

test('WORKERS left to its default: as many workers as fit; a booking that finds no connection gets a 503, '
  + 'its cause is logged, and bookings resume once connections are free', async () => {
  server = await startServer({ databaseUrl, workers: 'default' });
  const started = server.logs();
  expect(started).toMatch(/"message":"roombook listening".*"workers":1\b/);
  if (os.availableParallelism() > 1) {
    expect(started).toContain(`starting 1 worker, not one per core: ${os.availableParallelism()} workers × 4 connections`);
  }
  const api = client(server.url);
  expect((await api.post('/rooms', { name: 'BUDGET1' })).status).toBe(201);
  expect((await api.post('/users', { name: 'budget-ann' })).status).toBe(201);

  // The worker opened its connections when it started. Its booking connection is ended, and another
  // client of the same role takes every connection left: the booking connection cannot come back
  // ("too many connections for role", SQLSTATE 53300).
  await endSessions(admin, ROLE, 'roombook-bookings'); // the role's database has the role's name
  const fillers = Array.from({ length: LIMIT - await connectionsOfRole() }, () =>
    postgres(databaseUrl, { max: 1, onnotice: () => {} }));
  closeLater.push(...fillers);
  await Promise.all(fillers.map((sql) => sql`SELECT 1`));
  expect(await connectionsOfRole()).toBe(LIMIT);

  const booking = { room_name: 'BUDGET1', user_name: 'budget-ann', date: shortForm(dayFromToday(3)) };
  const refused = await api.post('/book', booking);
  expect(refused.status).toBe(503);
  expect(refused.body).toEqual({ error: 'db_unavailable', message: expect.any(String) });
  await waitFor('the 503\'s cause in the log', () => /"message":"answering 503: the database cannot serve","code":"53300"/.test(server!.logs()), 2000);

  await Promise.all(fillers.map((sql) => sql.end()));
  await waitFor('a booking to go through again', async () => (await api.post('/book', booking)).status === 201, 5000, 100);
});

test('the embedded PostgreSQL gets max_connections for the workers\' connections, or EMBEDDED_PG_MAX_CONNECTIONS; its start logs no error', async () => {
  const dataDir = scratchDir('roombook-budget-');
  const maxConnectionsWith = async (env: Record<string, string>): Promise<string> => {
    const embedded = await startServer({ workers: 2, env: { DATABASE_URL: undefined, DATA_DIR: dataDir, ...env } });
    try {
      expect(embedded.logs()).not.toMatch(/FATAL|ERROR/); // a clean start (readiness probes that meet "starting up" are not news)
      const port = /embedded PostgreSQL ready on 127\.0\.0\.1:(\d+)/.exec(embedded.logs())![1];
      const password = fs.readFileSync(path.join(dataDir, 'db-password'), 'utf8').trim();
      const sql = postgres({ host: '127.0.0.1', port: Number(port), user: 'postgres', password, database: 'roombook', max: 1 });
      try {
        return (await sql`SHOW max_connections`)[0].max_connections;
      } finally {
        await sql.end();
      }
    } finally {
      await embedded.stop();
    }
  };
  try {
    // 2 workers × (100 + 1 + 1) = 204 connections, + 50.
    expect(await maxConnectionsWith({ DB_POOL_SIZE: '100' })).toBe('254');
    expect(await maxConnectionsWith({ EMBEDDED_PG_MAX_CONNECTIONS: '321' })).toBe('321');
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
