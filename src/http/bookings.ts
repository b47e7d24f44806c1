import { AppError } from '../errors';
import { checkBookBody, checkBookingBody, type Checker } from '../domain/schemas';
import type { BookingInput, BookingService, Reference } from '../domain/booking';
import type { BookingRecords } from '../db/booking-records';
import type { NamedRepository } from '../db/named';
import type { Access } from '../domain/access';
import { addDays, daysBetween } from '../domain/dates';
import { Query, pathId } from './params';
import type { Request } from './route';
import type { Reply } from './reply';

const MAX_BOOKING_ID = Number.MAX_SAFE_INTEGER;
const MAX_AVAILABILITY_DAYS = 366;

function checked<T>(checker: Checker<T>, value: unknown): T {
  if (!checker.check(value)) throw new AppError('invalid_body', checker.explain(value));
  return value;
}

function reference(kind: 'room' | 'user', name: string | undefined, id: number | undefined): Reference {
  if ((name === undefined) === (id === undefined)) {
    throw new AppError('invalid_body', `Give exactly one of ${kind}_name and ${kind}_id.`);
  }
  return name !== undefined ? { name } : { id: id! };
}

export function bookingRoutes(bookings: BookingService, records: BookingRecords, rooms: NamedRepository, access: Access,
  today: () => string) {
  /** The 201 carries the booking's cancel token: the only time it is shown. */
  const created = async (input: BookingInput): Promise<Reply> => {
    const booking = await bookings.book(input);
    return { status: 201, body: { ...booking, cancel_token: access.cancelTokenFor(booking.id) } };
  };

  return {
    /** The Rust original's call: POST /book {"room_name","user_name","date"}. */
    book: (request: Request) => {
      const body = checked(checkBookBody, request.json);
      return created({ room: { name: body.room_name }, user: { name: body.user_name }, date: body.date });
    },

    create: (request: Request) => {
      const body = checked(checkBookingBody, request.json);
      return created({
        room: reference('room', body.room_name, body.room_id),
        user: reference('user', body.user_name, body.user_id),
        date: body.date,
      });
    },

    list: async (request: Request): Promise<Reply> => {
      const query = new Query(request.query, ['room_id', 'user_id', 'from', 'to', 'limit', 'after']);
      const limit = query.integer('limit', { min: 1, max: 1000, fallback: 100 })!;
      const items = await records.list({
        roomId: query.integer('room_id', { min: 1, max: 2147483647 }),
        userId: query.integer('user_id', { min: 1, max: 2147483647 }),
        from: query.day('from'),
        to: query.day('to'),
        after: query.integer('after', { min: 0, max: MAX_BOOKING_ID, fallback: 0 })!,
        limit,
      });
      return { status: 200, body: { items, next: items.length === limit ? items[items.length - 1].id : null } };
    },

    get: async (request: Request): Promise<Reply> =>
      ({ status: 200, body: await records.get(pathId(request.params[0], MAX_BOOKING_ID)) }),

    cancel: async (request: Request): Promise<Reply> => {
      const id = pathId(request.params[0], MAX_BOOKING_ID);
      access.requireCancelRight(id, request.headers.authorization, request.headers.cancelToken);
      await records.cancel(id);
      return { status: 204 };
    },

    /** Booked and free days of one room, from..to inclusive (default: today and the next 30 days). */
    availability: async (request: Request): Promise<Reply> => {
      const room = await rooms.get(pathId(request.params[0]));
      const query = new Query(request.query, ['from', 'to']);
      const from = query.day('from') ?? today();
      const to = query.day('to') ?? addDays(from, 30);
      const span = daysBetween(from, to) + 1;
      if (span < 1) throw new AppError('invalid_query', 'to must not be before from.');
      if (span > MAX_AVAILABILITY_DAYS) throw new AppError('invalid_query', `The range may span at most ${MAX_AVAILABILITY_DAYS} days.`);
      const booked = await records.bookedDays(room.id, from, to);
      const bookedDays = new Set(booked.map((row) => row.day));
      const free: string[] = [];
      for (let i = 0; i < span; i++) {
        const day = addDays(from, i);
        if (!bookedDays.has(day)) free.push(day);
      }
      return { status: 200, body: {
        room_id: room.id, room_name: room.name, from, to,
        booked: booked.map((row) => ({ date: row.day, booking_id: row.id })), free } };
    },
  };
}
