import type { Sql } from './sql';
import { AppError } from '../errors';
import { toBooking, type Booking } from './booking-statement';

/** Reading and cancelling bookings: everything about bookings except deciding them. */
export interface BookingFilter {
  roomId?: number;
  userId?: number;
  from?: string;
  to?: string;
  after: number;
  limit: number;
}

export class BookingRecords {
  constructor(private readonly sql: Sql) {}

  async get(id: number): Promise<Booking> {
    const [row] = await this.sql`
      SELECT b.id, b.room_id, b.user_id, b.day, r.name AS room_name, u.name AS user_name
      FROM bookings b JOIN rooms r ON r.id = b.room_id JOIN users u ON u.id = b.user_id
      WHERE b.id = ${id}`;
    if (!row) throw new AppError('not_found', `No booking has id ${id}.`);
    return toBooking(row);
  }

  /**
   * Keyset pagination on id: no row comes twice, and a delete between pages skips nothing. Ids are
   * drawn before their row commits, so a booking committed while a client pages may have an id
   * below the cursor and is not in the pages after it: a walk through the pages is a view of what
   * had committed, not a feed of changes (README, API).
   */
  async list(filter: BookingFilter): Promise<Booking[]> {
    const sql = this.sql;
    const rows = await sql`
      SELECT b.id, b.room_id, b.user_id, b.day, r.name AS room_name, u.name AS user_name
      FROM bookings b JOIN rooms r ON r.id = b.room_id JOIN users u ON u.id = b.user_id
      WHERE b.id > ${filter.after}
        ${filter.roomId !== undefined ? sql`AND b.room_id = ${filter.roomId}` : sql``}
        ${filter.userId !== undefined ? sql`AND b.user_id = ${filter.userId}` : sql``}
        ${filter.from !== undefined ? sql`AND b.day >= ${filter.from}::date` : sql``}
        ${filter.to !== undefined ? sql`AND b.day <= ${filter.to}::date` : sql``}
      ORDER BY b.id LIMIT ${filter.limit}`;
    return rows.map(toBooking);
  }

  /** Cancels a booking; the slot is free again as soon as this commits. */
  async cancel(id: number): Promise<void> {
    const [row] = await this.sql`DELETE FROM bookings WHERE id = ${id} RETURNING id`;
    if (!row) throw new AppError('not_found', `No booking has id ${id}.`);
  }

  async bookedDays(roomId: number, from: string, to: string): Promise<{ id: number; day: string }[]> {
    return (await this.sql`SELECT id, day FROM bookings
      WHERE room_id = ${roomId} AND day BETWEEN ${from}::date AND ${to}::date ORDER BY day`) as unknown as { id: number; day: string }[];
  }
}
