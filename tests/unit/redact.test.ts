import { redact } from '../../src/primary';

/** The start line logs the database URL: a password must never reach the log, wherever the URL holds it. */
test.each([
  ['postgres://rb:s3cret@db:5432/roombook', 'postgres://rb:***@db:5432/roombook'],
  ['postgres://rb@db/roombook?password=s3cret&sslmode=require', 'postgres://rb@db/roombook?password=***&sslmode=require'],
  ['postgres://rb@db/roombook', 'postgres://rb@db/roombook'],
])('%s is logged as %s', (url, logged) => {
  expect(redact(url)).toBe(logged);
});

test('a URL that does not parse is not logged at all', () => {
  expect(redact('postgresql//rb:s3cret@db/roombook')).toBe('(unparsable URL)');
});
