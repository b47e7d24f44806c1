/**
 * PostgreSQL array literals for the booking statement's parameters, written here rather than by
 * postgres.js, whose serializer quotes every element through a closure and two regular expressions
 * (fresh bookings +6-9 % with these: docs/performance.md, "Garbage collection under load"). The
 * server reads the literal with the type the statement casts it to (`$1::int[]`), as it reads
 * postgres.js's own text.
 */

/** `{1,2,3}`, for elements that need no quoting: integers, ISO days. */
export function bareArrayLiteral(values: readonly (number | string)[]): string {
  return `{${values.join(',')}}`;
}

const NEEDS_ESCAPE = /["\\]/g;

/**
 * `{"a","b\"c",NULL}`: every element quoted, so commas, braces, spaces and the word NULL in a
 * name stay text; inside quotes only `"` and `\` are special (a backslash escapes them).
 */
export function textArrayLiteral(values: readonly (string | null)[]): string {
  let literal = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) literal += ',';
    const value = values[i];
    literal += value === null ? 'NULL' : `"${value.replace(NEEDS_ESCAPE, '\\$&')}"`;
  }
  return literal + '}';
}
