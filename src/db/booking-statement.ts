import crypto from 'node:crypto';
import type { Sql } from './sql';
import { bareArrayLiteral, textArrayLiteral } from './array-literal';

/**
 * The statement that decides a batch of bookings, and the lookup that settles a batch whose
 * connection died. One row per booking, UNIQUE (room_id, day) settles every race, rows go in in
 * (room_id, day) order so two batches never wait on each other in a cycle (deadlock). Each row's
 * room and user are read in the same statement and, when the request named them, compared with
 * the names given: a stale cache entry leads to "invalid", never to a booking of the wrong room.
 *
 * `skipBooked` adds a NOT EXISTS that leaves out the slots already booked when the statement
 * starts, before their rows are formed. Forming a row draws its id from the sequence, and every
 * 32nd draw is written to the WAL, which gives the transaction an id and its commit a WAL flush (an
 * fsync) even when every row then conflicts. With it, a batch whose slots are all booked commits
 * without one. It decides nothing: ON CONFLICT still settles every race with a booking committed
 * meanwhile. PostgreSQL CPU per 28-row statement (pgbench, PostgreSQL 15, 3 alternating runs):
 * all rows booked 135-163 µs against 325-337; 21 of 28 booked 471-604 against 618-648; none booked
 * 730-782 against 680-722, one more index probe per row for nothing. So it is used while bookings
 * meet booked slots (BatchDecider).
 *
 * Written for a generic plan (the pool runs it with plan_cache_mode = force_generic_plan, see
 * src/db/sql.ts): planning it anew for every batch size cost more than executing it. The room and
 * user are scalar subqueries, so the plan looks each one up by primary key whatever the tables'
 * sizes; a join planned for an unknown batch size chose to scan the whole users table instead.
 */
const decideBatchStatement = (sql: Sql, skipBooked: boolean, token: StatementToken,
  [roomIds, roomNames, userIds, userNames, days]: Columns) => sql`
  WITH input AS (
    SELECT t.slot::int AS slot, t.room_id, t.user_id, t.day,
      (SELECT name FROM rooms WHERE id = t.room_id) AS room_now, t.room_name,
      (SELECT name FROM users WHERE id = t.user_id) AS user_now, t.user_name
    FROM unnest(${bareArrayLiteral(roomIds)}::int[], ${textArrayLiteral(roomNames)}::text[], ${bareArrayLiteral(userIds)}::int[],
      ${textArrayLiteral(userNames)}::text[], ${bareArrayLiteral(days)}::date[])
      WITH ORDINALITY AS t(room_id, room_name, user_id, user_name, day, slot)
  ), inserted AS (
    INSERT INTO bookings (room_id, user_id, day, statement_token)
    SELECT room_id, user_id, day, ${token}::bigint FROM input
    WHERE room_now = coalesce(room_name, room_now) AND user_now = coalesce(user_name, user_now)
      ${skipBooked ? sql`AND NOT EXISTS (SELECT FROM bookings b WHERE b.room_id = input.room_id AND b.day = input.day)` : sql``}
    ORDER BY room_id, day
    ON CONFLICT (room_id, day) DO NOTHING
    RETURNING id, room_id, day
  )
  SELECT i.slot, b.id, i.room_now, i.user_now
  FROM input i LEFT JOIN inserted b ON b.room_id = i.room_id AND b.day = i.day`;

/** After a connection died mid-statement: which of these slots hold a booking that the statement written with `token` committed? */
const findCommittedStatement = (sql: Sql, roomIds: number[], days: string[], token: StatementToken) => sql`
  SELECT b.id, b.room_id, b.user_id, b.day, r.name AS room_name, u.name AS user_name
  FROM unnest(${roomIds}::int[], ${days}::date[]) AS t(room_id, day)
  JOIN bookings b ON b.room_id = t.room_id AND b.day = t.day AND b.statement_token = ${token}::bigint
  JOIN rooms r ON r.id = b.room_id JOIN users u ON u.id = b.user_id`;

export interface BookingRequest {
  roomId: number;
  roomName: string | null; // null: booked by id, nothing to check the id against
  userId: number;
  userName: string | null;
  day: string;
}

export interface Booking {
  id: number;
  room_id: number;
  room_name: string;
  user_id: number;
  user_name: string;
  date: string;
}

/** What the database said about one request. `room_invalid`/`user_invalid`: no such id (with that name). */
export type Decision =
  | { outcome: 'booked'; booking: Booking }
  | { outcome: 'already_booked' }
  | { outcome: 'room_invalid' }
  | { outcome: 'user_invalid' };

type Columns = readonly [number[], (string | null)[], number[], (string | null)[], string[]];

function toColumns(requests: readonly BookingRequest[]): Columns {
  const roomIds: number[] = [], roomNames: (string | null)[] = [], userIds: number[] = [];
  const userNames: (string | null)[] = [], days: string[] = [];
  for (const request of requests) {
    roomIds.push(request.roomId);
    roomNames.push(request.roomName);
    userIds.push(request.userId);
    userNames.push(request.userName);
    days.push(request.day);
  }
  return [roomIds, roomNames, userIds, userNames, days];
}

/** The row exists and, when the request named it, has that name (the statement's own test). */
function matches(nameNow: string | null, nameGiven: string | null): boolean {
  return nameNow !== null && (nameGiven === null || nameNow === nameGiven);
}

/**
 * Written into every row a statement inserts (bookings.statement_token, sql/006): what tells, after
 * its connection died, the rows it wrote from the ones that were there before. 64 random bits, as
 * the decimal text PostgreSQL reads as a bigint.
 */
export type StatementToken = string;

/**
 * The random bytes are drawn for 512 tokens at a time. One draw per token cost ~6 µs, 2 % of a
 * worker's CPU under the original script (--cpu-prof); a token now costs ~0.4 µs with its text, and
 * sequential 29-row statements cost the client 7-9 µs less CPU each (3 runs alternating).
 */
const tokenBytes = Buffer.alloc(8 * 512);
let nextToken = tokenBytes.length;

export function newStatementToken(): StatementToken {
  if (nextToken === tokenBytes.length) {
    crypto.randomFillSync(tokenBytes);
    nextToken = 0;
  }
  const token = tokenBytes.readBigInt64BE(nextToken);
  nextToken += 8;
  return token.toString();
}

/**
 * Where a batch's statement went: set as it is sent, for the lookup after its connection is lost
 * (backendOf, endBackend). One property written per statement, nothing allocated.
 */
export interface SentStatement {
  statement?: unknown; // the postgres.js query
}

/** Decides every request of the batch in one statement; the answers come in the requests' order. */
async function decideBatch(sql: Sql, requests: readonly BookingRequest[], skipBooked: boolean,
  token: StatementToken, sent: SentStatement): Promise<Decision[]> {
  const statement = decideBatchStatement(sql, skipBooked, token, toColumns(requests));
  sent.statement = statement;
  const rows = await statement;
  const decisions = new Array<Decision>(requests.length);
  for (const row of rows) {
    const slot = row.slot - 1;
    const request = requests[slot];
    if (row.id !== null) {
      decisions[slot] = { outcome: 'booked', booking: {
        id: row.id, room_id: request.roomId, room_name: row.room_now,
        user_id: request.userId, user_name: row.user_now, date: request.day } };
    } else if (!matches(row.room_now, request.roomName)) decisions[slot] = { outcome: 'room_invalid' };
    else if (!matches(row.user_now, request.userName)) decisions[slot] = { outcome: 'user_invalid' };
    else decisions[slot] = { outcome: 'already_booked' };
  }
  return decisions;
}

/**
 * Decides batches, leaving out booked slots (skipBooked) after a batch that met one: the load goes
 * on as it was, and a batch that meets none switches back. Correct either way; only the cost differs.
 */
export class BatchDecider {
  private metBooked = false;

  async decide(sql: Sql, requests: readonly BookingRequest[], token: StatementToken, sent: SentStatement): Promise<Decision[]> {
    const decisions = await decideBatch(sql, requests, this.metBooked, token, sent);
    this.metBooked = decisions.some((decision) => decision.outcome === 'already_booked');
    return decisions;
  }
}

/**
 * After the connection of the statement written with `token` died: the request's booking where the
 * statement committed one (just before the connection died), a row holding the token; undefined
 * otherwise: decide it again. A slot that another row holds is decided again too, not answered
 * already booked from here: this lookup checks no name, and the statement answers a request whose
 * user does not exist, or whose cached room name is stale, with user_invalid or room_invalid (the
 * room now so named may be free that day). Rare enough for a statement more to cost nothing.
 */
export async function findCommitted(sql: Sql, requests: readonly BookingRequest[], token: StatementToken): Promise<(Decision | undefined)[]> {
  const [roomIds, , , , days] = toColumns(requests);
  const rows = await findCommittedStatement(sql, roomIds, days, token);
  const bySlot = new Map(rows.map((row) => [`${row.room_id}:${row.day}`, row]));
  return requests.map((request): Decision | undefined => {
    const row = bySlot.get(`${request.roomId}:${request.day}`);
    return row ? { outcome: 'booked', booking: toBooking(row) } : undefined;
  });
}

/**
 * The process id of the server backend a statement was sent to, if it was: postgres.js 3.4.9 keeps
 * the connection's BackendKeyData on the query it sends (`state`, what its cancel() uses).
 */
export function backendOf(sent: SentStatement): number | undefined {
  const pid = (sent.statement as { state?: { pid?: unknown } } | undefined)?.state?.pid;
  return typeof pid === 'number' ? pid : undefined;
}

/**
 * Ends the server backend of a statement whose connection was lost, and waits until it has gone,
 * so that the lookup that follows sees all that statement will ever commit. The server notices a
 * lost client only when it next reads or writes: a statement that was waiting for a lock (another
 * worker's insert of the same slot, a room delete) ran on, and committed after a lookup that had
 * found nothing, while its bookings were decided again and answered already booked. Only a
 * connection with this pool's application_name is ended: by now the pid may be another's, or,
 * after a failover, on another server, and ending another booking connection only makes its worker
 * look its own outcome up. The caller's watchdog bounds the wait.
 */
export async function endBackend(sql: Sql, pid: number): Promise<void> {
  while ((await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE pid = ${pid} AND pid <> pg_backend_pid() AND application_name = current_setting('application_name')`).length > 0) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function toBooking(row: Record<string, any>): Booking {
  return { id: row.id, room_id: row.room_id, room_name: row.room_name, user_id: row.user_id,
    user_name: row.user_name, date: row.day };
}
