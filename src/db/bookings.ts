import { closePool, connectAll, type Sql } from './sql';
import { AppError, isDatabaseUnavailable, isReadOnlyRefusal, isRefusedByDatabase, isTransientConflict } from '../errors';
import { log } from '../log';
import { BatchDecider, backendOf, endBackend, findCommitted, newStatementToken, type BookingRequest, type Decision,
  type SentStatement, type StatementToken } from './booking-statement';
import { Gathering } from './gathering';

/**
 * The write path's scheduler. Bookings that arrive close together are decided together: one
 * statement per batch (src/db/booking-statement.ts), so one commit for many bookings (group
 * commit). At most maxInFlight statements run at once; what arrives meanwhile joins the next,
 * which may wait a little longer for the clients just answered (src/db/gathering.ts).
 *
 * The batcher owns the booking connections, and never lets a broken one hold up the worker's
 * bookings:
 * - a statement that fails with a lost connection gets a new pool before its outcome is looked
 *   up: postgres.js 3.4.9 can leave a query stranded on a connection that died under it (queued
 *   between the socket's 'error' and 'close' events, it is never settled), and a fresh pool takes
 *   none of that state along. The statement's backend on the server is ended first: it may still be
 *   running (waiting for a lock), and commit after a lookup that found nothing (endBackend);
 * - PostgreSQL cancels a statement that runs longer than statementTimeoutMs (statement_timeout:
 *   lock waits, a stalled server); one that has given no answer STUCK_MARGIN_MS after that never
 *   reached the server or cannot answer (a network path gone silent: no FIN, no RST, which the
 *   client does not notice by itself). Its pool is then replaced too, and its outcome looked up;
 *   a lookup that meets the same silence is cut off the same way, and its batch answered 503.
 */
const STUCK_MARGIN_MS = 2000;

/**
 * Statements a booking may lead that lose their connection before committing: it is decided again
 * after each, but not for as long as connections keep failing under it (while the lookups get
 * through), which its client would wait out, for ever if it never stopped. Then it is answered 503.
 */
const MAX_LOST_STATEMENTS = 3;

/**
 * The client a booking is decided for. One that has gone (closed its connection) before the
 * booking's statement starts is not waited for: its booking is dropped, answered client_gone
 * (never sent), so that nothing is booked that nobody hears of. This is what happens to a booking
 * pipelined ahead of another request on one connection: uWebSockets.js closes the connection when
 * the second request arrives before the first is answered, in the same turn of the event loop.
 * A statement already sent is decided; its answer is lost with the connection.
 */
export interface Requester {
  readonly aborted: boolean;
}

interface Pending {
  request: BookingRequest;
  client: Requester | undefined;
  resolve: (decision: Decision) => void;
  reject: (error: unknown) => void;
  followers?: Pending[]; // later requests for the same (room, day) in the same batch
  queuedAt: number; // performance.now() when decide() was called
  arrival: number; // the order of decide() calls: the queue is kept in it (requeue)
  lostStatements: number; // statements it led that lost their connection before committing
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

export interface BookingBatcherOptions {
  maxSize: number;
  maxInFlight: number;
  statementTimeoutMs: number;
  /** Longest a statement waits for the bookings expected next (src/db/gathering.ts); 0: never. */
  gatherMs: number;
  observer?: BatchObserver;
}

/** What a batch waits for: the pool its statement (or lookup) runs on, which the watchdog replaces, and that statement. */
interface WaitingOn extends SentStatement {
  pool: Sql;
  lost: unknown; // why the statement's connection was lost, when its outcome was looked up
}

export class BookingBatcher {
  private sql: Sql;
  private pending: Pending[] = [];
  private inFlight = 0;
  private flushScheduled = false;
  private gatherTimer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];
  private arrivals = 0;
  readonly stats: BatchStats = { batches: 0, bookings: 0 };

  private readonly maxSize: number;
  private readonly maxInFlight: number;
  private readonly stuckAfterMs: number;
  private readonly observer: BatchObserver | undefined;
  private readonly gathering: Gathering;
  private readonly decider = new BatchDecider();

  /** openConnections: a pool of maxInFlight connections with statement_timeout = statementTimeoutMs. */
  constructor(private readonly openConnections: () => Sql, options: BookingBatcherOptions) {
    this.maxSize = options.maxSize;
    this.maxInFlight = options.maxInFlight;
    this.observer = options.observer;
    this.stuckAfterMs = options.statementTimeoutMs + STUCK_MARGIN_MS;
    this.gathering = new Gathering(options.gatherMs);
    this.sql = openConnections();
  }

  /** Opens the booking connections now (see connectAll), rather than with the first booking. */
  connect(): Promise<void> {
    return connectAll(this.sql, this.maxInFlight);
  }

  /** Closes the booking connections (after drained(), at shutdown). */
  close(): Promise<void> {
    return closePool(this.sql, 2);
  }

  /** Bookings waiting for a statement, and statements running (read by metrics at scrape). */
  get queued(): number {
    return this.pending.length;
  }

  get statementsInFlight(): number {
    return this.inFlight;
  }

  /** Statements that waited for the bookings expected, by how the wait ended (read by metrics). */
  get gatherWaits(): { readonly met: number; readonly ranOut: number } {
    return this.gathering.waits;
  }

  decide(request: BookingRequest, client?: Requester): Promise<Decision> {
    return new Promise((resolve, reject) => {
      this.pending.push({ request, client, resolve, reject, queuedAt: performance.now(), arrival: this.arrivals++,
        lostStatements: 0 });
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
    if (this.gathering.shouldWait(this.pending.length)) {
      this.gatherTimer ??= setTimeout(() => {
        this.gatherTimer = undefined;
        if (this.inFlight < this.maxInFlight) this.flush(true);
      }, this.gathering.maxWaitMs);
      return;
    }
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Everything that arrives in this turn of the event loop joins the same batch.
    setImmediate(() => {
      this.flushScheduled = false;
      if (this.inFlight < this.maxInFlight) this.flush();
    });
  }

  /** waitRanOut: called by the gather timer, whose wait for the bookings expected ran out. */
  private flush(waitRanOut = false): void {
    const waited = waitRanOut ? 'ranOut' : this.gatherTimer ? 'met' : 'none';
    clearTimeout(this.gatherTimer);
    this.gatherTimer = undefined;
    if (this.pending.length === 0) return this.notifyIfIdle();
    const queuedBefore = this.pending.length;
    const { batch, gone } = this.takeBatch();
    if (batch.length === 0) return this.notifyIfIdle(); // every client had gone: nothing taken is left to decide
    // Told only of a statement that starts: a wait whose clients all left is no statement's wait.
    this.gathering.statementStarts(waited);
    const answered = queuedBefore - this.pending.length - gone; // leaders and followers: the clients this statement answers
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
      this.gathering.statementDone(answered, this.pending.length);
      if (this.pending.length > 0) this.schedule();
      else this.notifyIfIdle();
    });
  }

  /**
   * Up to maxSize leaders; a request for a (room, day) already in the batch follows its leader.
   * Requests whose client has gone are dropped here (`gone`), so none of them leads.
   */
  private takeBatch(): { batch: Pending[]; gone: number } {
    const leaders = new Map<string, Pending>();
    let taken = 0;
    let gone = 0;
    for (; taken < this.pending.length && leaders.size < this.maxSize; taken++) {
      const entry = this.pending[taken];
      if (entry.client?.aborted) {
        gone++;
        entry.reject(new AppError('client_gone'));
        continue;
      }
      const key = `${entry.request.roomId}:${entry.request.day}`;
      const leader = leaders.get(key);
      if (leader) (leader.followers ??= []).push(entry);
      else leaders.set(key, entry);
    }
    this.pending = this.pending.slice(taken);
    return { batch: [...leaders.values()], gone };
  }

  private async run(batch: Pending[]): Promise<void> {
    const waitingOn: WaitingOn = { pool: this.sql, statement: undefined, lost: undefined }; // one shape from the start
    // Fires again for as long as the batch waits: the lookup of a statement cut off here, on a new
    // connection, can meet the same silent path (and is then answered 503).
    const watchdog = setInterval(() => {
      log.warn('a booking statement gave no answer in time; its connections are replaced and its outcome looked up',
        { size: batch.length, waitedMs: this.stuckAfterMs });
      this.replaceConnections(waitingOn.pool);
    }, this.stuckAfterMs);
    try {
      const decisions = await this.decideWithRetry(batch, waitingOn);
      batch.forEach((entry, slot) => this.settle(entry, decisions[slot], waitingOn.lost));
    } catch (error) {
      for (const entry of batch) {
        entry.reject(error);
        entry.followers?.forEach((follower) => follower.reject(error));
      }
    } finally {
      clearInterval(watchdog);
    }
  }

  /**
   * New statements go to a new pool at once (unless another batch replaced `broken` already);
   * ending the old one fails whatever is still on it as a lost connection, which decideWithRetry
   * answers by looking the outcome up.
   */
  private replaceConnections(broken: Sql): void {
    if (broken === this.sql) this.sql = this.openConnections();
    void closePool(broken, 0);
  }

  /** `lost`: why the statement's connection was lost, when it was (its outcome was looked up). */
  private settle(entry: Pending, decision: Decision | undefined, lost: unknown): void {
    if (decision === undefined) {
      // Not decided (the connection died before the statement committed): decide it again, a few times at most.
      const undecided = [entry, ...(entry.followers ?? [])];
      if (++entry.lostStatements < MAX_LOST_STATEMENTS) this.requeue(undecided);
      else for (const waiting of undecided) waiting.reject(lost);
      return;
    }
    entry.resolve(decision);
    if (!entry.followers) return;
    if (decision.outcome === 'booked' || decision.outcome === 'already_booked') {
      // The slot is taken: a follower is already booked if the statement checked its room and user
      // too, that is, if it names the leader's room and user (by id, or by the names just checked).
      // Any other is decided anew, by a statement that checks them: its room name may be a stale
      // cache entry (the name now belongs to another room, which may be free that day), its user may
      // not exist, and a lone request for a booked slot is answered so (room_invalid, user_invalid).
      const leader = entry.request;
      const booked = decision.outcome === 'booked' ? decision.booking : undefined;
      const roomName = booked ? booked.room_name : leader.roomName;
      const userName = booked ? booked.user_name : leader.userName;
      let unchecked: Pending[] | undefined;
      for (const follower of entry.followers) {
        const { roomName: room, userId, userName: user } = follower.request;
        if ((room === null || room === roomName) && userId === leader.userId && (user === null || user === userName)) {
          follower.resolve({ outcome: 'already_booked' });
        } else (unchecked ??= []).push(follower);
      }
      if (unchecked) this.requeue(unchecked);
    } else {
      // The leader's room or user was invalid; the followers may name others: decide them anew.
      this.requeue(entry.followers);
    }
  }

  /**
   * Back into the queue at its place by arrival, not at its end: a request for the same slot that
   * arrived while the statement ran would otherwise lead the next batch, and win the slot from an
   * earlier one. Rare (a stale name, another user, a lost connection), so the walk costs nothing.
   */
  private requeue(entries: Pending[]): void {
    for (const entry of entries) {
      entry.followers = undefined;
      let at = this.pending.length;
      while (at > 0 && this.pending[at - 1].arrival > entry.arrival) at--;
      this.pending.splice(at, 0, entry);
    }
    this.schedule();
  }

  /**
   * One statement for the batch. A deadlock (which the row order should rule out) or a
   * serialization failure is retried; a statement the server refused is rolled back (503); a lost
   * connection leaves the outcome unknown, so the committed rows are looked up before anyone gets
   * an answer.
   */
  private async decideWithRetry(batch: Pending[], waitingOn: WaitingOn): Promise<(Decision | undefined)[]> {
    const requests = batch.map((entry) => entry.request);
    for (let attempt = 1; ; attempt++) {
      const pool = waitingOn.pool = this.sql;
      const token = newStatementToken();
      try {
        return await this.decider.decide(pool, requests, token, waitingOn);
      } catch (error) {
        if (isTransientConflict(error) && attempt < 3) continue;
        if (isRefusedByDatabase(error)) {
          // Rolled back, so nothing to look up: answered 503.
          if (isReadOnlyRefusal(error)) this.replaceConnections(pool);
          throw error;
        }
        if (!isDatabaseUnavailable(error)) throw error;
        this.replaceConnections(pool);
        return this.resolveUnknownOutcome(requests, token, error, waitingOn);
      }
    }
  }

  /** The statement's backend is ended first (endBackend): it may still be running, and commit. */
  private async resolveUnknownOutcome(requests: BookingRequest[], token: StatementToken, cause: unknown,
    waitingOn: WaitingOn): Promise<(Decision | undefined)[]> {
    const backend = backendOf(waitingOn);
    let decisions;
    try {
      if (backend !== undefined) await endBackend(waitingOn.pool = this.sql, backend);
      decisions = await findCommitted(waitingOn.pool = this.sql, requests, token);
    } catch (error) {
      if (isDatabaseUnavailable(error)) this.replaceConnections(waitingOn.pool);
      throw cause; // still unreachable: the caller answers 503, and a 503 promises nothing
    }
    log.warn('booking batch lost its connection; outcome resolved by lookup', { size: requests.length });
    waitingOn.lost = cause;
    return decisions;
  }

  private notifyIfIdle(): void {
    if (this.pending.length > 0 || this.inFlight > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    waiters.forEach((resolve) => resolve());
  }
}
