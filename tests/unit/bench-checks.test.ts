import { failedChecks, failOnChecks, verdictOf, type RunRecord } from '../../bench/lib/measure';

/** The SQL check after each bench run: what it calls a failure, and that a failure fails the command. */
test.each([
  ['every 201 has its row', 1000, 1000, 0, 'exact'],
  ['up to one row per connection whose answer wrk dropped at the end', 1064, 1000, 0, 'cut-off'],
  ['a 201 without its row', 999, 1000, 0, 'MISMATCH'],
  ['more rows than the cut-off explains', 1065, 1000, 0, 'MISMATCH'],
  ['a (room, day) booked twice, counts equal', 1000, 1000, 1, 'MISMATCH'],
])('%s: %s rows, %s 201s, %s twice -> %s', (_story, written, created, doubleBooked, verdict) => {
  expect(verdictOf(written, created, doubleBooked, 64)).toBe(verdict);
});

const record = (scenario: string, run: number, written: number, created: number, doubleBooked = 0): RunRecord => ({
  scenario, run, load: {} as RunRecord['load'],
  check: { rowsBefore: 0, rowsAfter: written, written, created, doubleBooked, verdict: verdictOf(written, created, doubleBooked, 64) },
});

test('a failed check, warm-up included, sets exit code 1 and is named; passing checks leave the exit code alone', () => {
  const write = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    const passing = [record('original-c64', 1, 1000, 1000), record('fresh-c64', 1, 1010, 1000)];
    failOnChecks(failedChecks(passing));
    expect(process.exitCode).toBeUndefined();
    const failed = failedChecks([...passing, record('fresh-c64', 0, 900, 1000), record('original-c64', 2, 1000, 1000, 3)]);
    expect(failed).toEqual([
      'fresh-c64 warm-up: 1000 201s, 900 rows written, 0 (room, day) booked twice',
      'original-c64 run 2: 1000 201s, 1000 rows written, 3 (room, day) booked twice',
    ]);
    failOnChecks(failed);
    expect(process.exitCode).toBe(1);
    expect(String(write.mock.calls[0][0])).toContain('SQL check FAILED');
  } finally {
    process.exitCode = undefined;
    write.mockRestore();
  }
});
