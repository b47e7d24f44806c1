import type { Sql } from './sql';
import { isDatabaseUnavailable } from '../errors';
import { log } from '../log';

/**
 * The write path. Bookings that arrive close together are decided together: one statement per
 * batch (group commit), one row per booking, and UNIQUE (room_id, day) settles every race.
 * Rows are inserted in (room_id, day) order so that two batches never wait on each other in a
 * cycle (deadlock). Names, when given, are checked against the tables in the same statement:
 * a stale cache entry leads to "invalid", never to a booking of the wrong room.
 */
const decideBatch = (sql: Sql, roomIds: number[], roomNames: (string | null)[], userIds: number[],
  userNames: (string | null)[], days: string[]) => sql`
  WITH input AS (
    SELECT * FROM unnest(${roomIds}::int[], ${roomNames}::text[], ${userIds}::int[], ${userNames}::text[], ${days}::date[])
      WITH ORDINALITY AS t(room_id, room_name, user_id, user_name, day, slot)
  ), valid AS (
    SELECT i.slot, i.room_id, i.user_id, i.day, r.name AS room_name, u.name AS user_name
    FROM input i
    JOIN rooms r ON r.id = i.room_id AND (i.room_name IS NULL OR r.name = i.room_name)
    JOIN users u ON u.id = i.user_id AND (i.user_name IS NULL OR u.name = i.user_name)
  ), inserted AS (
    INSERT INTO bookings (room_id, user_id, day)
    SELECT room_id, user_id, day FROM valid ORDER BY room_id, day
    ON CONFLICT (room_id, day) DO NOTHING
    RETURNING id, room_id, day
  )
  SELECT i.slot::int AS slot, b.id, v.room_name, v.user_name,
    CASE WHEN v.slot IS NULL THEN EXISTS (
      SELECT 1 FROM rooms r WHERE r.id = i.room_id AND (i.room_name IS NULL OR r.name = i.room_name)) END AS room_ok
  FROM input i
  LEFT JOIN valid v ON v.slot = i.slot
  LEFT JOIN inserted b ON b.room_id = i.room_id AND b.day = i.day`;

/** After a connection died mid-statement: which of these slots hold a committed booking? */
const findCommitted = (sql: Sql, roomIds: number[], days: string[]) => sql`
  SELECT b.id, b.room_id, b.user_id, b.day, r.name AS room_name, u.name AS user_name
  FROM unnest(${roomIds}::int[], ${days}::date[]) AS t(room_id, day)
  JOIN bookings b ON b.room_id = t.room_id AND b.day = t.day
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

interface Pending {
  request: BookingRequest;
  resolve: (decision: Decision) => void;
  reject: (error: unknown) => void;
  followers?: Pending[]; // later requests for the same (room, day) in the same batch
  queuedAt: number; // performance.now() when decide() was called
}

/** Told of every batch (metrics): called once per statement, never per booking. */
export interface BatchObserver {
  /** A statement starts: its rows, and how long the oldest of them waited in the queue. */
  started(size: number, oldestWaitMs: number): void;
  /** It has decided (retries included) after this long. */
  finished(durationMs: number): void;
}

export interface BatchStats {
  batches: number;
  bookings: number;
}

export class BookingBatcher {
  private pending: Pending[] = [];
  private inFlight = 0;
  private flushScheduled = false;
  private idleWaiters: (() => void)[] = [];
  readonly stats: BatchStats = { batches: 0, bookings: 0 };

  constructor(private readonly sql: Sql, private readonly maxSize: number, private readonly maxInFlight: number,
    private readonly observer?: BatchObserver) {}

  /** Bookings waiting for a statement, and statements running (read by metrics at scrape). */
  get queued(): number {
    return this.pending.length;
  }

  get statementsInFlight(): number {
    return this.inFlight;
  }

  decide(request: BookingRequest): Promise<Decision> {
    return new Promise((resolve, reject) => {
      this.pending.push({ request, resolve, reject, queuedAt: performance.now() });
      this.schedule();
    });
  }

  /** Resolves once nothing is pending or in flight (graceful shutdown). */
  drained(): Promise<void> {
    if (this.pending.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.inFlight >= this.maxInFlight) return; // a finishing batch flushes what waits
    if (this.pending.length >= this.maxSize) return this.flush();
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Everything that arrives in this turn of the event loop joins the same batch.
    setImmediate(() => {
      this.flushScheduled = false;
      if (this.inFlight < this.maxInFlight) this.flush();
    });
  }

  private flush(): void {
    if (this.pending.length === 0) return this.notifyIfIdle();
    const batch = this.takeBatch();
    this.inFlight++;
    this.stats.batches++;
    this.stats.bookings += batch.length;
    const started = performance.now();
    if (this.observer) {
      let oldest = started;
      for (const entry of batch) if (entry.queuedAt < oldest) oldest = entry.queuedAt; // requeued ones are older
      this.observer.started(batch.length, started - oldest);
    }
    this.run(batch).finally(() => {
      this.observer?.finished(performance.now() - started);
      this.inFlight--;
      if (this.pending.length > 0) this.schedule();
      else this.notifyIfIdle();
    });
  }

  /** Up to maxSize leaders; a request for a (room, day) already in the batch follows its leader. */
  private takeBatch(): Pending[] {
    const leaders = new Map<string, Pending>();
    let taken = 0;
    for (; taken < this.pending.length && leaders.size < this.maxSize; taken++) {
      const entry = this.pending[taken];
      const key = `${entry.request.roomId}:${entry.request.day}`;
      const leader = leaders.get(key);
      if (leader) (leader.followers ??= []).push(entry);
      else leaders.set(key, entry);
    }
    this.pending = this.pending.slice(taken);
    return [...leaders.values()];
  }

  private async run(batch: Pending[]): Promise<void> {
    try {
      const decisions = await this.decideWithRetry(batch);
      batch.forEach((entry, slot) => this.settle(entry, decisions[slot]));
    } catch (error) {
      for (const entry of batch) {
        entry.reject(error);
        entry.followers?.forEach((follower) => follower.reject(error));
      }
    }
  }

  private settle(entry: Pending, decision: Decision | undefined): void {
    if (decision === undefined) {
      // Not decided (the connection died before the statement committed): decide it again.
      this.requeue([entry, ...(entry.followers ?? [])]);
      return;
    }
    entry.resolve(decision);
    if (!entry.followers) return;
    if (decision.outcome === 'booked' || decision.outcome === 'already_booked') {
      entry.followers.forEach((follower) => follower.resolve({ outcome: 'already_booked' }));
    } else {
      // The leader's room or user was invalid; the followers may name others: decide them anew.
      this.requeue(entry.followers);
    }
  }

  private requeue(entries: Pending[]): void {
    for (const entry of entries) {
      entry.followers = undefined;
      this.pending.push(entry);
    }
    this.schedule();
  }

  /**
   * One statement for the batch. A deadlock or a foreign-key race (a room deleted between the
   * statement's snapshot and its insert) is retried once; a lost connection leaves the outcome
   * unknown, so the committed rows are looked up before anyone gets an answer.
   */
  private async decideWithRetry(batch: Pending[]): Promise<(Decision | undefined)[]> {
    const columns = toColumns(batch);
    for (let attempt = 1; ; attempt++) {
      try {
        return toDecisions(batch, await decideBatch(this.sql, ...columns));
      } catch (error) {
        const code = (error as { code?: string }).code;
        if ((code === '40P01' || code === '23503') && attempt < 3) continue;
        if (isDatabaseUnavailable(error)) return this.resolveUnknownOutcome(batch, columns, error);
        throw error;
      }
    }
  }

  private async resolveUnknownOutcome(batch: Pending[], columns: ReturnType<typeof toColumns>, cause: unknown)
    : Promise<(Decision | undefined)[]> {
    const [roomIds, , userIds, , days] = columns;
    let rows;
    try {
      rows = await findCommitted(this.sql, roomIds, days);
    } catch {
      throw cause; // still unreachable: the caller answers 503, and a 503 promises nothing
    }
    log.warn('booking batch lost its connection; outcome resolved by lookup', { size: batch.length });
    const bySlot = new Map(rows.map((row) => [`${row.room_id}:${row.day}`, row]));
    return batch.map((_, slot): Decision | undefined => {
      const row = bySlot.get(`${roomIds[slot]}:${days[slot]}`);
      if (!row) return undefined;
      // The same user holding the slot is taken as this request's booking: the statement may
      // have committed just before the connection died.
      if (row.user_id !== userIds[slot]) return { outcome: 'already_booked' };
      return { outcome: 'booked', booking: toBooking(row) };
    });
  }

  private notifyIfIdle(): void {
    if (this.pending.length > 0 || this.inFlight > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    waiters.forEach((resolve) => resolve());
  }
}

function toColumns(batch: Pending[]) {
  const roomIds: number[] = [], roomNames: (string | null)[] = [], userIds: number[] = [];
  const userNames: (string | null)[] = [], days: string[] = [];
  for (const { request } of batch) {
    roomIds.push(request.roomId);
    roomNames.push(request.roomName);
    userIds.push(request.userId);
    userNames.push(request.userName);
    days.push(request.day);
  }
  return [roomIds, roomNames, userIds, userNames, days] as const;
}

function toDecisions(batch: Pending[], rows: readonly Record<string, any>[]): Decision[] {
  const decisions = new Array<Decision>(batch.length);
  for (const row of rows) {
    const slot = row.slot - 1;
    const { request } = batch[slot];
    if (row.id !== null) {
      decisions[slot] = { outcome: 'booked', booking: {
        id: row.id, room_id: request.roomId, room_name: row.room_name,
        user_id: request.userId, user_name: row.user_name, date: request.day } };
    } else if (row.room_name !== null) decisions[slot] = { outcome: 'already_booked' };
    else decisions[slot] = { outcome: row.room_ok ? 'user_invalid' : 'room_invalid' };
  }
  return decisions;
}

export function toBooking(row: Record<string, any>): Booking {
  return { id: row.id, room_id: row.room_id, room_name: row.room_name, user_id: row.user_id,
    user_name: row.user_name, date: row.day };
}
