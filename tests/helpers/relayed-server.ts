import type postgres from 'postgres';
import { connect, createDatabase } from './database';
import { startServer, type RunningServer } from './server';
import { client, dayFromToday, type Answer } from './http';
import { relayTo, type SilencingRelay } from './relay';

/** An answer and how long it took. */
export type Timed = { answer: Answer; ms: number };

/**
 * A 1-worker roombook on a database of its own, reached through a SilencingRelay, with one room and
 * one user to book: what the fault tests on database connections share. `sql` reaches the
 * database directly, around the relay.
 */
export async function timed(call: () => Promise<Answer>): Promise<Timed> {
  const started = Date.now();
  const answer = await call();
  return { answer, ms: Date.now() - started };
}

export interface RelayedServer {
  database: Awaited<ReturnType<typeof createDatabase>>;
  relay: SilencingRelay;
  server: RunningServer;
  sql: postgres.Sql;
  api: ReturnType<typeof client>;
  room: { id: number; name: string };
  user: { id: number; name: string };
  /** Books `count` distinct days from `firstDay` at once (through `api` unless given another client). */
  bookDays(firstDay: number, count: number, through?: ReturnType<typeof client>): Promise<Timed[]>;
  /** Rows of the room's bookings on those days. */
  rowsFrom(firstDay: number, count: number): Promise<number>;
  close(): Promise<void>;
}

export async function startRelayedServer(env: Record<string, string>, names: { room: string; user: string }): Promise<RelayedServer> {
  const database = await createDatabase();
  const { relay, url } = await relayTo(database.url);
  const server = await startServer({ databaseUrl: url, workers: 1, env });
  const sql = connect(database.url);
  const api = client(server.url);
  const room = (await api.post('/rooms', { name: names.room })).body;
  const user = (await api.post('/users', { name: names.user })).body;
  return {
    database, relay, server, sql, api, room, user,
    bookDays: (firstDay, count, through = api) => Promise.all(Array.from({ length: count }, (_, i) =>
      timed(() => through.post('/book', { room_name: room.name, user_name: user.name, date: dayFromToday(firstDay + i) })))),
    rowsFrom: async (firstDay, count) => {
      const [{ n }] = await sql`SELECT count(*)::int AS n FROM bookings
        WHERE room_id = ${room.id} AND day BETWEEN ${dayFromToday(firstDay)}::date AND ${dayFromToday(firstDay + count - 1)}::date`;
      return n;
    },
    close: async () => {
      await sql.end();
      await server.stop();
      await relay.close();
      await database.drop();
    },
  };
}
