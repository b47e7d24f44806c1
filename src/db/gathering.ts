/**
 * How long the next booking statement waits for more bookings, decided after each statement.
 *
 * A statement's cost is mostly per statement, not per row (a commit, a round trip, a turn of
 * each process involved): on the 2-core bench machine a batch of 28 cost 54 µs of CPU per
 * booking and a batch of 16 cost 74 µs. Clients on keep-alive connections send their next
 * request soon after their answer, so the bookings just answered, plus those that queued up
 * meanwhile, are the bookings expected next: the statement waits for that many, for at most
 * maxWaitMs. Without the wait, the clients of a worker split into two halves that take turns
 * (one half waits while the other's statement runs), and every statement carries half of them.
 *
 * maxWaitMs is a Node.js timer, which counts whole milliseconds of the event loop's cached clock,
 * so a 1 ms wait can run out after a fraction of a millisecond: it did in 11-13 % of the
 * statements at -c64 on the bench machine, against 1-2 % with 2 ms (batches of ~31 of a worker's
 * 32 clients instead of ~22, fresh bookings/s +10 %). Hence the default of 2.
 *
 * A wait that runs out means the clients do not come back at once (independent arrivals): the
 * next statements then start at once, for 1, 2, 4 ... 64 statements after each wait that ran out
 * (halved by each wait that was met), so such traffic pays the wait rarely. One client alone
 * never waits: it is expected once, and it is there.
 */
const MAX_SKIPPED = 64;

export class Gathering {
  private expected = 0; // bookings the next statement waits for; 0: none
  private skipped = 0; // statements to start without waiting, after a wait ran out
  private backoff = 0; // how many statements the last wait that ran out made start at once
  /** Waits so far, by how they ended (metrics). */
  readonly waits = { met: 0, ranOut: 0 };

  constructor(readonly maxWaitMs: number) {}

  /** A statement decided `answered` bookings while `queued` more arrived. */
  statementDone(answered: number, queued: number): void {
    if (this.maxWaitMs === 0) return;
    if (this.skipped > 0) {
      this.skipped--;
      return;
    }
    this.expected = answered + queued;
  }

  /** Whether the next statement should wait rather than start with `pending` bookings. */
  shouldWait(pending: number): boolean {
    return pending < this.expected;
  }

  /**
   * The next statement starts: at once (`none`), or after waiting for the bookings expected,
   * which came (`met`) or did not come within maxWaitMs (`ranOut`).
   */
  statementStarts(wait: 'none' | 'met' | 'ranOut'): void {
    if (wait === 'ranOut') {
      this.waits.ranOut++;
      this.backoff = Math.min(MAX_SKIPPED, this.backoff * 2 || 1);
      this.skipped = this.backoff;
    } else if (wait === 'met') {
      this.waits.met++;
      this.backoff >>= 1;
    }
    this.expected = 0;
  }
}
