import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ROOM_NAME_LENGTH, USER_NAME_LENGTH } from './names';

/**
 * Request schemas: the only declaration of each request type (types are derived with Static)
 * and the source of the OpenAPI document (responses: src/domain/responses.ts). Checkers are
 * compiled once, at import.
 */
const nameRule = (kind: 'room' | 'user', { min, max }: { min: number; max: number }) =>
  `a ${kind} name: ${min} to ${max} characters once trimmed, ${kind === 'room' ? 'upper' : 'lower'}-cased and put in NFC, `
  + 'with no control or invisible characters (400 invalid_name otherwise)';
const name = (description: string) => Type.String({ maxLength: 256, description });
const RoomName = name(nameRule('room', ROOM_NAME_LENGTH));
const UserName = name(nameRule('user', USER_NAME_LENGTH));
const DateText = Type.String({ maxLength: 32, description: 'DD.MM.YY, DD/MM/YY or YYYY-MM-DD', examples: ['25.12.30'] });
export const MAX_ID = 2147483647; // PostgreSQL integer: ids of rooms and users
const Id = Type.Integer({ minimum: 1, maximum: MAX_ID });

export const BookBody = Type.Object(
  { room_name: RoomName, user_name: UserName, date: DateText },
  { additionalProperties: false, description: 'The Rust original\'s booking call' },
);
export type BookBody = Static<typeof BookBody>;

export const BookingBody = Type.Object(
  {
    room_name: Type.Optional(RoomName),
    room_id: Type.Optional(Id),
    user_name: Type.Optional(UserName),
    user_id: Type.Optional(Id),
    date: DateText,
  },
  { additionalProperties: false, description: 'Exactly one of room_name and room_id, and one of user_name and user_id' },
);
export type BookingBody = Static<typeof BookingBody>;

export const NameBody = Type.Object({
  name: name(`${nameRule('room', ROOM_NAME_LENGTH)}; ${nameRule('user', USER_NAME_LENGTH)}`),
}, { additionalProperties: false });
export type NameBody = Static<typeof NameBody>;

/**
 * Query parameters and path ids. src/http/params.ts reads the accepted names, ranges and
 * defaults from these, so the handlers and the OpenAPI document cannot disagree.
 */
export const MAX_BOOKING_ID = Number.MAX_SAFE_INTEGER; // bigint ids, read as numbers

const dateText = (description: string) => Type.String({ maxLength: 32, description: `${description}; DD.MM.YY, DD/MM/YY or YYYY-MM-DD` });
const Limit = Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'most items in the page' });
const after = (maximum: number) =>
  Type.Integer({ minimum: 0, maximum, default: 0, description: 'the `next` of the previous page: items with a larger id' });

export const PageQuery = Type.Object({ limit: Type.Optional(Limit), after: Type.Optional(after(MAX_ID)) },
  { additionalProperties: false });

export const BookingListQuery = Type.Object({
  room_id: Type.Optional(Id),
  user_id: Type.Optional(Id),
  from: Type.Optional(dateText('bookings on this day or later')),
  to: Type.Optional(dateText('bookings on this day or earlier; not before from (400 invalid_query)')),
  limit: Type.Optional(Limit),
  after: Type.Optional(after(MAX_BOOKING_ID)),
}, { additionalProperties: false });

export const AvailabilityQuery = Type.Object({
  from: Type.Optional(dateText('first day (default: today)')),
  to: Type.Optional(dateText('last day (default: 30 days after from); not before from, and at most 366 days in all (400 invalid_query)')),
}, { additionalProperties: false });

export const RemoveQuery = Type.Object({
  cascade: Type.Optional(Type.Boolean({ default: false, description: 'also cancel its bookings of today and later (an empty value means true)' })),
}, { additionalProperties: false });

/** Path ids: anything but a positive integer is 400 invalid_id; one past the maximum is 404. */
export const PathId = Type.Integer({ minimum: 1, maximum: MAX_ID });
export const BookingPathId = Type.Integer({ minimum: 1, maximum: MAX_BOOKING_ID });

export interface Checker<T> {
  check(value: unknown): value is T;
  /** A one-line description of the first problem, for the error message. */
  explain(value: unknown): string;
}

function compile<T extends TSchema>(schema: T): Checker<Static<T>> {
  const compiled = TypeCompiler.Compile(schema);
  return {
    check: (value): value is Static<T> => compiled.Check(value),
    explain(value) {
      const first = compiled.Errors(value).First();
      if (!first) return 'The request body does not have the expected fields.';
      const field = first.path === '' ? 'body' : first.path.slice(1);
      return `${field}: ${first.message}`;
    },
  };
}

export const checkBookBody = compile(BookBody);
export const checkBookingBody = compile(BookingBody);
export const checkNameBody = compile(NameBody);
