import type { TObject, TSchema } from '@sinclair/typebox';
import type { ErrorCode } from '../errors';
import {
  AvailabilityQuery, BookBody, BookingBody, BookingListQuery, BookingPathId, NameBody, PageQuery, PathId, RemoveQuery,
} from '../domain/schemas';
import {
  Availability, Booking, BookingPage, CreatedBooking, Health, Named, NamedPage, OpenApiDocument, Ready,
} from '../domain/responses';

/**
 * What the OpenAPI document says of each route of the table in src/worker.ts, keyed
 * "METHOD /path". Only what the table cannot say lives here: the generator (./openapi.ts)
 * walks the table, so a route missing here still appears, marked x-undocumented, and
 * tests/integration/openapi.test.ts fails on it. Error codes implied by a body, a path id, a
 * query, an auth rule or the database are added by the generator; list only the others.
 */
export interface RouteDoc {
  tag: 'bookings' | 'rooms' | 'users' | 'operations';
  summary: string;
  description?: string;
  body?: TSchema;
  query?: TObject;
  params?: Record<string, TSchema>; // by the name after ':' in the path
  auth?: 'admin' | 'admin or cancel token';
  success: { status: number; description: string; schema?: TSchema; contentType?: string };
  errors?: ErrorCode[];
  database?: false; // answers without the database: never 503 db_unavailable
}

const BOOKING_ERRORS: ErrorCode[] = ['invalid_name', 'invalid_date', 'room_not_found', 'user_not_found', 'date_in_past', 'already_booked'];

function namedDocs(plural: 'rooms' | 'users', singular: 'room' | 'user'): Record<string, RouteDoc> {
  const hasBookings: ErrorCode = singular === 'room' ? 'room_has_bookings' : 'user_has_bookings';
  return {
    [`POST /${plural}`]: { tag: plural, summary: `Create a ${singular}`, body: NameBody, auth: 'admin',
      success: { status: 201, description: `the ${singular}, its name normalised`, schema: Named }, errors: ['invalid_name', 'name_taken'] },
    [`GET /${plural}`]: { tag: plural, summary: `List ${plural} by id`, query: PageQuery,
      success: { status: 200, description: `a page of ${plural}`, schema: NamedPage } },
    [`GET /${plural}/:id`]: { tag: plural, summary: `One ${singular}`, params: { id: PathId },
      success: { status: 200, description: `the ${singular}`, schema: Named } },
    [`PATCH /${plural}/:id`]: { tag: plural, summary: `Rename a ${singular}`, params: { id: PathId }, body: NameBody, auth: 'admin',
      success: { status: 200, description: `the ${singular} with its new name`, schema: Named }, errors: ['invalid_name', 'name_taken'] },
    [`DELETE /${plural}/:id`]: { tag: plural, summary: `Delete a ${singular}`, params: { id: PathId }, query: RemoveQuery, auth: 'admin',
      description: `Refused while it has bookings today or later, unless ?cascade=true, which cancels them too.`,
      success: { status: 204, description: 'deleted' }, errors: [hasBookings] },
  };
}

export const routeDocs: Record<string, RouteDoc> = {
  'POST /book': { tag: 'bookings', summary: 'Book a room for a day, by names (the original service\'s call)', body: BookBody,
    success: { status: 201, description: 'booked', schema: CreatedBooking }, errors: BOOKING_ERRORS },
  'POST /bookings': { tag: 'bookings', summary: 'Book a room for a day, by names or ids', body: BookingBody,
    success: { status: 201, description: 'booked', schema: CreatedBooking }, errors: BOOKING_ERRORS },
  'GET /bookings': { tag: 'bookings', summary: 'List bookings by id, filtered', query: BookingListQuery,
    success: { status: 200, description: 'a page of bookings', schema: BookingPage } },
  'GET /bookings/:id': { tag: 'bookings', summary: 'One booking', params: { id: BookingPathId },
    success: { status: 200, description: 'the booking', schema: Booking } },
  'DELETE /bookings/:id': { tag: 'bookings', summary: 'Cancel a booking; its day is free again at once', params: { id: BookingPathId },
    auth: 'admin or cancel token', success: { status: 204, description: 'cancelled' } },
  'GET /rooms/:id/availability': { tag: 'rooms', summary: 'Booked and free days of a room', params: { id: PathId },
    query: AvailabilityQuery, success: { status: 200, description: 'every day from..to, booked or free', schema: Availability } },
  ...namedDocs('rooms', 'room'),
  ...namedDocs('users', 'user'),
  'GET /health': { tag: 'operations', summary: 'The process answers (nothing else is checked)', database: false,
    success: { status: 200, description: 'alive', schema: Health } },
  'GET /ready': { tag: 'operations', summary: 'The database answers within a second and this worker\'s cache is loaded',
    success: { status: 200, description: 'ready', schema: Ready }, errors: ['not_ready'] },
  'GET /openapi.json': { tag: 'operations', summary: 'This document (OpenAPI 3.1)', database: false,
    success: { status: 200, description: 'the document', schema: OpenApiDocument } },
  'GET /docs': { tag: 'operations', summary: 'This document as a web page (no external resources)', database: false,
    success: { status: 200, description: 'an HTML page', contentType: 'text/html' } },
};
