import { Gathering } from '../../src/db/gathering';

/** The next statement's wait (src/db/gathering.ts), decided after each statement. */
describe('Gathering', () => {
  test('waits for the bookings just answered plus those that queued meanwhile', () => {
    const gathering = new Gathering(1);
    expect(gathering.shouldWait(1)).toBe(false); // nothing answered yet: start at once
    gathering.statementStarts('none');
    gathering.statementDone(5, 3);
    expect(gathering.shouldWait(3)).toBe(true);
    expect(gathering.shouldWait(7)).toBe(true);
    expect(gathering.shouldWait(8)).toBe(false);
  });

  test('a lone client is expected once, and is there: it never waits', () => {
    const gathering = new Gathering(1);
    for (let i = 0; i < 5; i++) {
      expect(gathering.shouldWait(1)).toBe(false);
      gathering.statementStarts('none');
      gathering.statementDone(1, 0);
    }
  });

  test('BATCH_GATHER_MS=0 never waits', () => {
    const gathering = new Gathering(0);
    gathering.statementDone(50, 50);
    expect(gathering.shouldWait(1)).toBe(false);
  });

  test('after waits that ran out in a row, 1, 2, 4 ... 64 statements start at once; each wait met halves that', () => {
    const gathering = new Gathering(1);
    /** Statements that start without waiting before the next one waits; that wait ends as `wait`. */
    const startsWithoutWaiting = (wait: 'met' | 'ranOut'): number => {
      let count = 0;
      for (;;) {
        gathering.statementDone(10, 0);
        if (gathering.shouldWait(1)) break;
        gathering.statementStarts('none');
        count++;
      }
      gathering.statementStarts(wait);
      return count;
    };
    gathering.statementStarts('none');
    expect(startsWithoutWaiting('ranOut')).toBe(0); // the first wait
    expect(Array.from({ length: 8 }, () => startsWithoutWaiting('ranOut'))).toEqual([1, 2, 4, 8, 16, 32, 64, 64]);
    expect(startsWithoutWaiting('met')).toBe(64); // the next wait comes after 64, and is met: 64 → 32
    expect(startsWithoutWaiting('ranOut')).toBe(0); // waits met do not skip: 32 → 64 on running out
    expect(startsWithoutWaiting('met')).toBe(64); // 64 → 32
    expect(startsWithoutWaiting('met')).toBe(0); // 32 → 16
    expect(startsWithoutWaiting('met')).toBe(0); // → 8, 4, 2, 1, 0 over the next waits met
    for (let i = 0; i < 4; i++) startsWithoutWaiting('met');
    expect(startsWithoutWaiting('ranOut')).toBe(0); // 0 → 1
    expect(startsWithoutWaiting('ranOut')).toBe(1); // back to the start of the sequence
  });
});
