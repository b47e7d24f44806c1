import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

/**
 * Request schemas: the only declaration of each request type (types are derived with Static)
 * and the source of the OpenAPI document. Checkers are compiled once, at import.
 */
const Name = Type.String({ maxLength: 256, description: 'trimmed before checking its length' });
const DateText = Type.String({ maxLength: 32, description: 'DD.MM.YY, DD/MM/YY or YYYY-MM-DD', examples: ['25.11.26'] });
const Id = Type.Integer({ minimum: 1, maximum: 2147483647 });

export const BookBody = Type.Object(
  { room_name: Name, user_name: Name, date: DateText },
  { additionalProperties: false, description: 'The Rust original\'s booking call' },
);
export type BookBody = Static<typeof BookBody>;

export const BookingBody = Type.Object(
  {
    room_name: Type.Optional(Name),
    room_id: Type.Optional(Id),
    user_name: Type.Optional(Name),
    user_id: Type.Optional(Id),
    date: DateText,
  },
  { additionalProperties: false, description: 'Exactly one of room_name and room_id, and one of user_name and user_id' },
);
export type BookingBody = Static<typeof BookingBody>;

export const NameBody = Type.Object({ name: Name }, { additionalProperties: false });
export type NameBody = Static<typeof NameBody>;

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
