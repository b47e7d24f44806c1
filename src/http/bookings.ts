import { AppError } from '../errors';
import { AvailabilityQuery, BookingListQuery, MAX_BOOKING_ID, checkBookBody, checkBookingBody, type Checker } from '../domain/schemas';
import type { BookingInput, BookingService, Reference } from '../domain/booking';
import type { BookingRecords } from '../db/booking-records';
import type { NamedRepository } from '../db/named';
import type { Access } from '../domain/access';
import { addDays, daysBetween } from '../domain/dates';
import { Query, pathId } from './params';
import type { Request } from './route';
import { errorOf, type Reply } from './reply';

const MAX_AVAILABILITY_DAYS = 366;
const LAST_DAY = '9999-12-31';

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
    const outcome = await bookings.book(input);
    if ('refused' in outcome) return errorOf(outcome.refused, outcome.message);
    const b = outcome.booked;
    // Spelled out rather than spread: one object shape for every 201, which JSON.stringify serialises fastest.
    return { status: 201, body: { id: b.id, room_id: b.room_id, room_name: b.room_name, user_id: b.user_id,
      user_name: b.user_name, date: b.date, cancel_token: access.cancelTokenFor(b.id) } };
  };

  return {
    /** The Rust original's call: POST /book {"room_name","user_name","date"}. */
    book: (request: Request) => {
      const body = checked(checkBookBody, request.json);
      return created({ room: { name: body.room_name }, user: { name: body.user_name }, date: body.date, client: request.client });
    },

    create: (request: Request) => {
      const body = checked(checkBookingBody, request.json);
      return created({
        room: reference('room', body.room_name, body.room_id),
        user: reference('user', body.user_name, body.user_id),
        date: body.date,
        client: request.client,
      });
    },

    list: async (request: Request): Promise<Reply> => {
      const query = new Query(request.query, BookingListQuery); // names, ranges and defaults
      const limit = query.integer('limit')!;
      const [from, to] = [query.day('from'), query.day('to')];
      // Refused as the availability refuses it: an empty range is a mistake, not a question.
      if (from !== undefined && to !== undefined && to < from) throw new AppError('invalid_query', `to (${to}) must not be before from (${from}).`);
      const items = await records.list({
        roomId: query.integer('room_id'),
        userId: query.integer('user_id'),
        from,
        to,
        after: query.integer('after')!,
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
      // The request is checked whole before the database is asked: a bad query is a 400 whatever the room.
      const roomId = pathId(request.params[0]);
      const query = new Query(request.query, AvailabilityQuery);
      const givenFrom = query.day('from');
      const from = givenFrom ?? today();
      // The default end stops at the last day a date can name: 9999-12-31 + 30 days is no date (was a 500).
      const to = query.day('to') ?? (from > addDays(LAST_DAY, -30) ? LAST_DAY : addDays(from, 30));
      const span = daysBetween(from, to) + 1;
      if (span < 1) throw new AppError('invalid_query', `to (${to}) must not be before from (${from}${givenFrom === undefined ? ', today by default' : ''}).`);
      if (span > MAX_AVAILABILITY_DAYS) throw new AppError('invalid_query', `The range may span at most ${MAX_AVAILABILITY_DAYS} days.`);
      const room = await rooms.get(roomId);
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
