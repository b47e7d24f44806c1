import type { Sql } from './sql';
import { isDatabaseUnavailable } from '../errors';
import { log } from '../log';
import { decideBatch, findCommitted, type BookingRequest, type Decision } from './booking-statement';

/**
 * The write path's scheduler. Bookings that arrive close together are decided together: one
 * statement per batch (src/db/booking-statement.ts), so one commit for many bookings (group
 * commit). At most maxInFlight statements run at once; what arrives meanwhile joins the next.
 */
interface Pending {
  request: BookingRequest;
  resolve: (decision: Decision) => void;
  reject: (error: unknown) => void;
  followers?: Pending[]; // later requests for the same (room, day) in the same batch
  queuedAt: number; // performance.now() when decide() was called
}

/** Told of every batch (metrics): called once per statement, never per booking. */
export interface BatchObserver {
  /** A statement starts: its rows, and how long the oldest of them waited in the queue. */
  started(size: number, oldestWaitMs: number): void;
  /** It has decided (retries included) after this long. */
  finished(durationMs: number): void;
}

export interface BatchStats {
  batches: number;
  bookings: number;
}

export class BookingBatcher {
  private pending: Pending[] = [];
  private inFlight = 0;
  private flushScheduled = false;
  private idleWaiters: (() => void)[] = [];
  readonly stats: BatchStats = { batches: 0, bookings: 0 };

  constructor(private readonly sql: Sql, private readonly maxSize: number, private readonly maxInFlight: number,
    private readonly observer?: BatchObserver) {}

  /** Bookings waiting for a statement, and statements running (read by metrics at scrape). */
  get queued(): number {
    return this.pending.length;
  }

  get statementsInFlight(): number {
    return this.inFlight;
  }

  decide(request: BookingRequest): Promise<Decision> {
    return new Promise((resolve, reject) => {
      this.pending.push({ request, resolve, reject, queuedAt: performance.now() });
      this.schedule();
    });
  }

  /** Resolves once nothing is pending or in flight (graceful shutdown). */
  drained(): Promise<void> {
    if (this.pending.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.inFlight >= this.maxInFlight) return; // a finishing batch flushes what waits
    if (this.pending.length >= this.maxSize) return this.flush();
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Everything that arrives in this turn of the event loop joins the same batch.
    setImmediate(() => {
      this.flushScheduled = false;
      if (this.inFlight < this.maxInFlight) this.flush();
    });
  }

  private flush(): void {
    if (this.pending.length === 0) return this.notifyIfIdle();
    const batch = this.takeBatch();
    this.inFlight++;
    this.stats.batches++;
    this.stats.bookings += batch.length;
    const started = performance.now();
    if (this.observer) {
      let oldest = started;
      for (const entry of batch) if (entry.queuedAt < oldest) oldest = entry.queuedAt; // requeued ones are older
      this.observer.started(batch.length, started - oldest);
    }
    this.run(batch).finally(() => {
      this.observer?.finished(performance.now() - started);
      this.inFlight--;
      if (this.pending.length > 0) this.schedule();
      else this.notifyIfIdle();
    });
  }

  /** Up to maxSize leaders; a request for a (room, day) already in the batch follows its leader. */
  private takeBatch(): Pending[] {
    const leaders = new Map<string, Pending>();
    let taken = 0;
    for (; taken < this.pending.length && leaders.size < this.maxSize; taken++) {
      const entry = this.pending[taken];
      const key = `${entry.request.roomId}:${entry.request.day}`;
      const leader = leaders.get(key);
      if (leader) (leader.followers ??= []).push(entry);
      else leaders.set(key, entry);
    }
    this.pending = this.pending.slice(taken);
    return [...leaders.values()];
  }

  private async run(batch: Pending[]): Promise<void> {
    try {
      const decisions = await this.decideWithRetry(batch);
      batch.forEach((entry, slot) => this.settle(entry, decisions[slot]));
    } catch (error) {
      for (const entry of batch) {
        entry.reject(error);
        entry.followers?.forEach((follower) => follower.reject(error));
      }
    }
  }

  private settle(entry: Pending, decision: Decision | undefined): void {
    if (decision === undefined) {
      // Not decided (the connection died before the statement committed): decide it again.
      this.requeue([entry, ...(entry.followers ?? [])]);
      return;
    }
    entry.resolve(decision);
    if (!entry.followers) return;
    if (decision.outcome === 'booked' || decision.outcome === 'already_booked') {
      entry.followers.forEach((follower) => follower.resolve({ outcome: 'already_booked' }));
    } else {
      // The leader's room or user was invalid; the followers may name others: decide them anew.
      this.requeue(entry.followers);
    }
  }

  private requeue(entries: Pending[]): void {
    for (const entry of entries) {
      entry.followers = undefined;
      this.pending.push(entry);
    }
    this.schedule();
  }

  /**
   * One statement for the batch. A deadlock (which the row order should rule out) is retried;
   * a lost connection leaves the outcome unknown, so the committed rows are looked up before
   * anyone gets an answer.
   */
  private async decideWithRetry(batch: Pending[]): Promise<(Decision | undefined)[]> {
    const requests = batch.map((entry) => entry.request);
    for (let attempt = 1; ; attempt++) {
      try {
        return await decideBatch(this.sql, requests);
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === '40P01' && attempt < 3) continue;
        if (isDatabaseUnavailable(error)) return this.resolveUnknownOutcome(requests, error);
        throw error;
      }
    }
  }

  private async resolveUnknownOutcome(requests: BookingRequest[], cause: unknown): Promise<(Decision | undefined)[]> {
    let decisions;
    try {
      decisions = await findCommitted(this.sql, requests);
    } catch {
      throw cause; // still unreachable: the caller answers 503, and a 503 promises nothing
    }
    log.warn('booking batch lost its connection; outcome resolved by lookup', { size: requests.length });
    return decisions;
  }

  private notifyIfIdle(): void {
    if (this.pending.length > 0 || this.inFlight > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    waiters.forEach((resolve) => resolve());
  }
}
