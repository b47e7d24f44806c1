import { catalogue, isTransientConflict, statusOf, toAppError, type ErrorCode } from '../../src/errors';
import { PreSerialised, errorOf } from '../../src/http/reply';

/** The error bodies built by errorOf (src/http/reply.ts): the default ones at load, the others from a prefix per code. */
const bodyOf = (code: ErrorCode, message?: string) => {
  const reply = errorOf(code, message);
  expect(reply.status).toBe(statusOf(code));
  expect(reply.body).toBeInstanceOf(PreSerialised);
  return JSON.parse((reply.body as PreSerialised).text);
};

test('every code with its default message', () => {
  for (const code of Object.keys(catalogue) as ErrorCode[]) {
    expect(bodyOf(code)).toEqual({ error: code, message: catalogue[code][1] });
  }
});

test('every code with a message of its own, whatever characters the message holds', () => {
  const message = 'No room is named "A\\B"\n\t\u0000 ÄÖ 😀 </script>';
  for (const code of Object.keys(catalogue) as ErrorCode[]) {
    expect(bodyOf(code, message)).toEqual({ error: code, message });
  }
});

test.each([
  ['40P01', 'deadlock_detected'],
  ['40001', 'serialization_failure'],
  ['55P03', 'lock_not_available'],
  ['57014', 'query_canceled (statement_timeout)'],
])('SQLSTATE %s (%s), a statement the database rolled back for its own reasons, is 503 db_unavailable, not 500', (code) => {
  expect(toAppError(Object.assign(new Error('from PostgreSQL'), { code })).code).toBe('db_unavailable');
});

test('an SQLSTATE that says the request or the code is wrong stays 500 internal', () => {
  expect(toAppError(Object.assign(new Error('from PostgreSQL'), { code: '42P01' })).code).toBe('internal'); // undefined_table
});

test('a deadlock and a serialization failure are worth running again; a unique violation or a lost connection is not', () => {
  const withCode = (code: string) => Object.assign(new Error('from PostgreSQL'), { code });
  expect(['40P01', '40001'].map((code) => isTransientConflict(withCode(code)))).toEqual([true, true]);
  expect(['23505', '57014', 'ECONNRESET'].map((code) => isTransientConflict(withCode(code)))).toEqual([false, false, false]);
});
