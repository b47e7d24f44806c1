import { newStatementToken } from '../../src/db/booking-statement';

// Tokens come from random bytes drawn 512 at a time: across several refills each must still be a
// new 64-bit value, written as the decimal text PostgreSQL reads as a bigint.
test('statement tokens stay distinct bigints across refills of their random bytes', () => {
  const tokens = Array.from({ length: 512 * 3 + 7 }, () => newStatementToken());
  expect(new Set(tokens).size).toBe(tokens.length);
  for (const token of tokens) {
    expect(token).toMatch(/^-?\d{1,19}$/);
    expect(BigInt.asIntN(64, BigInt(token))).toBe(BigInt(token));
  }
});
