import { Type, type TSchema } from '@sinclair/typebox';

/**
 * Response bodies, for the OpenAPI document. Handlers build these shapes by hand (a serialiser
 * per response would cost more than it saves), so tests/integration/openapi.test.ts checks real
 * answers against them, and tests/unit/openapi.test.ts checks the TypeScript types agree.
 */
const Id = Type.Integer({ minimum: 1 });
const Day = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD' });
const closed = { additionalProperties: false } as const;

export const Booking = Type.Object({
  id: Id, room_id: Id, room_name: Type.String(), user_id: Id, user_name: Type.String(), date: Day,
}, closed);

export const CreatedBooking = Type.Composite([Booking, Type.Object({
  cancel_token: Type.String({ description: 'cancels this booking (header X-Cancel-Token); shown only in this answer' }),
})], closed);

export const Named = Type.Object({ id: Id, name: Type.String({ description: 'normalised: rooms upper-case, users lower-case' }) }, closed);

const page = <T extends TSchema>(item: T) => Type.Object({
  items: Type.Array(item),
  next: Type.Union([Id, Type.Null()], { description: 'pass as ?after= for the next page; null when this page is not full' }),
}, closed);
export const BookingPage = page(Booking);
export const NamedPage = page(Named);

export const Availability = Type.Object({
  room_id: Id, room_name: Type.String(), from: Day, to: Day,
  booked: Type.Array(Type.Object({ date: Day, booking_id: Id }, closed)),
  free: Type.Array(Day),
}, closed);

export const Health = Type.Object({ status: Type.Literal('ok') }, closed);
export const Ready = Type.Object({
  status: Type.Literal('ready'), rooms: Type.Integer({ minimum: 0 }), users: Type.Integer({ minimum: 0 }),
}, closed);

export const OpenApiDocument = Type.Object({ openapi: Type.String(), info: Type.Object({}), paths: Type.Object({}) },
  { description: 'this document' });
