import crypto from 'node:crypto';
import postgres from 'postgres';
import { waitFor } from './wait';

/**
 * The PostgreSQL server the tests use: DATABASE_URL when set, else the embedded server that
 * tests/helpers/global-setup.ts started (its URL in ROOMBOOK_TEST_SERVER_URL). Each test file
 * gets a database of its own, so files never see each other's rows.
 */
export function serverUrl(): string {
  const url = process.env.ROOMBOOK_TEST_SERVER_URL ?? process.env.DATABASE_URL;
  if (!url) throw new Error('no PostgreSQL for the tests: run them through jest (global setup) or set DATABASE_URL');
  return url;
}

export function databaseUrl(name: string): string {
  const url = new URL(serverUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

export async function createDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `roombook_test_${crypto.randomBytes(5).toString('hex')}`;
  const admin = postgres(serverUrl(), { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  return {
    name,
    url: databaseUrl(name),
    async drop() {
      const again = postgres(serverUrl(), { max: 1, onnotice: () => {} });
      await again.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await again.end();
    },
  };
}

/** A direct connection for assertions on the rows themselves. */
export function connect(url: string): postgres.Sql {
  return postgres(url, { max: 2, onnotice: () => {}, types: { day: { to: 1082, from: [1082], serialize: (v: string) => v, parse: (v: string) => v } } as never });
}

/** Inserts rooms with the notify trigger off, in one transaction: no worker hears of them; only a reload (or a miss) finds them. */
export async function insertRoomsSilently(sql: postgres.Sql, names: string[]): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`ALTER TABLE rooms DISABLE TRIGGER rooms_notify`;
    for (const name of names) await tx`INSERT INTO rooms (name) VALUES (${name})`;
    await tx`ALTER TABLE rooms ENABLE TRIGGER rooms_notify`;
  });
}

/** Deletes rooms with the notify trigger off: every worker keeps them cached until a reload. */
export async function deleteRoomsSilently(sql: postgres.Sql, names: string[]): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`ALTER TABLE rooms DISABLE TRIGGER rooms_notify`;
    await tx`DELETE FROM rooms WHERE name = ANY(${names})`;
    await tx`ALTER TABLE rooms ENABLE TRIGGER rooms_notify`;
  });
}

export async function roomCount(sql: postgres.Sql): Promise<number> {
  const [{ count }] = await sql`SELECT count(*)::int AS count FROM rooms`;
  return count;
}

/**
 * Ends roombook's connections of one kind (application_name: roombook, roombook-bookings,
 * roombook-listener) to `database`, through a superuser connection, and waits until they are gone;
 * roombook's next query reconnects. It waits for those sessions, not for none of the kind: the
 * listener reconnects at once, and a wait for none missed the moment between its old session's
 * end and its new one's start (tests/faults/connection-setup.test.ts, about one run in two).
 */
export async function endSessions(sql: postgres.Sql, database: string, applicationName: string): Promise<void> {
  const sessions = async () => (await sql`SELECT pid FROM pg_stat_activity
    WHERE datname = ${database} AND application_name = ${applicationName}`).map((row) => row.pid as number);
  const ended = await sessions();
  for (const pid of ended) await sql`SELECT pg_terminate_backend(${pid})`;
  await waitFor(`the ${applicationName} connections to end`, async () => (await sessions()).every((pid) => !ended.includes(pid)), 5000);
}
