import { bareArrayLiteral, textArrayLiteral } from '../../src/db/array-literal';

/** The booking statement's array parameters (src/db/booking-statement.ts); the API test books names made of these characters. */
test('integers and ISO days are written bare', () => {
  expect(bareArrayLiteral([1, 22, 333])).toBe('{1,22,333}');
  expect(bareArrayLiteral(['2030-12-25', '2031-01-01'])).toBe('{2030-12-25,2031-01-01}');
  expect(bareArrayLiteral([])).toBe('{}');
});

test('text is quoted, with its quotes and backslashes escaped; null is NULL unquoted', () => {
  expect(textArrayLiteral(['ROOM1', null, 'A"B', 'C\\D', 'E,F', '{G}', 'H I', 'NULL', 'ÄÖ'])).toBe(
    '{"ROOM1",NULL,"A\\"B","C\\\\D","E,F","{G}","H I","NULL","ÄÖ"}');
  expect(textArrayLiteral([])).toBe('{}');
});
