import postgres from 'postgres';
import { isReadOnlyRefusal } from '../errors';

export type Sql = postgres.Sql<{}>;

export interface PoolOptions {
  max: number;
  applicationName: string;
  /**
   * plan_cache_mode = force_generic_plan: every execution of a prepared statement reuses one plan.
   * For the booking statement, whose custom plan depends on the batch size, PostgreSQL otherwise
   * kept planning it again (about a quarter of its CPU per statement).
   */
  genericPlans?: boolean;
  /** statement_timeout in ms: PostgreSQL cancels (rolls back) a statement that runs longer (default: none, whatever the database sets). */
  statementTimeoutMs?: number;
  /**
   * idle_in_transaction_session_timeout in ms: PostgreSQL ends a session that leaves a transaction
   * open and silent this long. A transaction whose client lost its network path (a room delete
   * holding its lock on bookings, say) is rolled back then, rather than when TCP gives up.
   */
  idleInTransactionTimeoutMs?: number;
}

/** A timeout setting's 0 (none), as text: postgres.js leaves a falsy value out of the startup message. */
const NONE = '0' as unknown as number;

/**
 * A postgres.js pool. Dates stay ISO strings (a day is not an instant) and bigint ids become
 * numbers (bookings would need 2^53 rows to overflow).
 */
export function createSql(url: string, options: PoolOptions): Sql {
  return postgres(withoutDateStyle(url), {
    max: options.max,
    connect_timeout: 3,
    // postgres.js waits backoff(failures) seconds before a pool connection tries again, up to 20 s
    // by default, and each attempt fails only the one query it carries: in an outage the others
    // queued behind it, and every request with them, waited that long for their 503 (and as long
    // after the database was back). A quarter second at most keeps a 503 within about 2 s under
    // load (a booking may wait for two batches of two queries each) and recovery prompt.
    backoff: (failures: number) => Math.min(0.02 * 3 ** failures, 0.25),
    idle_timeout: 0,
    prepare: true,
    onnotice: () => {},
    // A startup setting overrides ALTER DATABASE/ROLE ... SET, so these hold whatever the database
    // or role sets. DateStyle ISO: days are read back as the text PostgreSQL writes, and a database
    // or role whose DateStyle is 'SQL, DMY' (say) wrote 02/12/2026, answered as a date and never
    // equal to a day booked; TimeZone does not touch `date`. lock_timeout and statement_timeout 0
    // unless set here: roombook bounds its own waits (QUERY_TIMEOUT_MS, BOOKING_STATEMENT_TIMEOUT_MS)
    // and relies on waiting for locks (a room delete waits for the bookings in flight), so a
    // lock_timeout of 10 ms made deletes and creates 500 (SQLSTATE 55P03), and a statement_timeout
    // of 50 ms cancelled every cache reload of 600,000 names, so the workers never became ready,
    // and db:seed. READ COMMITTED: roombook's statements are written for it (a room delete locks
    // bookings, then reads them; a booking is decided by the UNIQUE constraint), and with
    // default_transaction_isolation = 'serializable' on the database, a delete that waited for a
    // rename to commit failed with a serialization failure (40001), answered 503.
    connection: { application_name: options.applicationName, DateStyle: 'ISO', lock_timeout: NONE,
      default_transaction_isolation: 'read committed',
      ...(options.genericPlans ? { plan_cache_mode: 'force_generic_plan' } : {}),
      statement_timeout: options.statementTimeoutMs ?? NONE,
      ...(options.idleInTransactionTimeoutMs ? { idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs } : {}) },
    types: {
      day: { to: 1082, from: [1082], serialize: (value: string) => value, parse: (value: string) => value },
      id8: { to: 20, from: [20], serialize: (value: number) => String(value), parse: (value: string) => Number(value) },
    },
  }) as unknown as Sql;
}

/**
 * `url` without a DateStyle of its own: postgres.js lets a URL's query parameters override the
 * startup settings given in code, so `?DateStyle=SQL,DMY` replaced roombook's ISO, and days came
 * back as 20/12/2026: listed so, and free in the availability though booked. PostgreSQL's setting
 * names ignore case, so every spelling goes. A URL without one is returned as it was.
 */
export function withoutDateStyle(url: string): string {
  const start = url.indexOf('?');
  if (start < 0) return url;
  const query = new URLSearchParams(url.slice(start + 1));
  const dateStyles = [...query.keys()].filter((key) => key.toLowerCase() === 'datestyle');
  if (dateStyles.length === 0) return url;
  for (const key of dateStyles) query.delete(key);
  const rest = query.toString();
  return url.slice(0, start) + (rest === '' ? '' : `?${rest}`);
}

/**
 * The URL the workers connect with: `url` asking for no idle_session_timeout where the server knows
 * that setting (PostgreSQL 14 and later; 13 refuses a startup parameter it does not know, so it is
 * asked first). Workers hold their connections open while idle (idle_timeout: 0), the LISTEN
 * connection between its checks above all: with idle_session_timeout = '2s' on the database it was
 * closed every few seconds, and each worker reloaded its whole cache each time (26 reloads in a
 * minute, one of them failing on a read connection closed the same way). postgres.js passes a
 * URL's query parameters on as startup parameters, which override ALTER DATABASE/ROLE ... SET.
 */
export async function workerDatabaseUrl(sql: Sql, url: string): Promise<string> {
  const [{ known }] = await sql`SELECT current_setting('idle_session_timeout', true) IS NOT NULL AS known`;
  return known ? `${url}${url.includes('?') ? '&' : '?'}idle_session_timeout=0` : url;
}

/**
 * Opens `count` connections of a pool now; postgres.js opens them on demand, and a worker whose
 * client connections have taken every file descriptor (EMFILE) would then have none left for its
 * database connections, and fail every request that needs one until clients leave. Failures are
 * ignored: a database not reachable yet is met by the requests' own error handling.
 */
export async function connectAll(sql: Sql, count: number): Promise<void> {
  await Promise.all(Array.from({ length: count }, () => sql`SELECT 1`.catch(() => {})));
}

/**
 * Ends a pool: queries still running get `seconds` to finish, then its connections are destroyed.
 * Never waits longer than that and a second: postgres.js 3.4.9's end() has been seen not to
 * settle at all for a pool whose connection died under a query, and a caller awaiting it (the
 * listener's check, a worker's shutdown) would wait for ever.
 */
export function closePool(sql: { end(options: { timeout: number }): Promise<void> }, seconds: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => { timer = setTimeout(resolve, seconds * 1000 + 1000); });
  return Promise.race([sql.end({ timeout: seconds }).catch(() => {}), bound]).finally(() => clearTimeout(timer));
}

/**
 * The read pool: a pool that renews itself behind the same Sql value. A connection gone silent
 * (no FIN, no RST) keeps every query postgres.js sends on it waiting until TCP gives up, minutes
 * later, and postgres.js gives no way to drop one connection. So every query awaited through this
 * value has a deadline: past `queryTimeoutMs` it fails as a lost connection (503 db_unavailable)
 * and the pool is replaced; renew() does the same on demand (say, the listener's check failed). The
 * old pool's queries get `graceSeconds` to finish, then its connections are destroyed. Fragments
 * (`sql` inside another query) are never awaited, so they get no deadline. A `sql.begin`
 * transaction has one deadline as a whole (its queries have none of their own); the server side of
 * a transaction abandoned so is for idle_in_transaction_session_timeout to end (see PoolOptions).
 * The hot booking path does not use this pool (cached names).
 */
export interface RenewablePool {
  readonly sql: Sql;
  /**
   * The current pool itself, whose queries have no deadline of their own: for a caller that keeps
   * one as it goes (the cache reload moves its deadline on with every page, src/db/listen.ts).
   */
  current(): Sql;
  /** Renews the pool unless that happened less than a second ago (an outage reports many times). */
  renew(why: string): boolean;
  close(seconds: number): Promise<void>;
}

const QUERY_DEADLINE_CODE = 'QUERY_DEADLINE'; // src/errors.ts counts it as database-unavailable

type Thenable = { then: (onFulfilled?: (value: unknown) => unknown, onRejected?: (error: unknown) => unknown) => Promise<unknown> };

export function createRenewablePool(open: () => Sql, queryTimeoutMs: number, onRenew: (why: string) => void,
  graceSeconds = 2): RenewablePool {
  let current = open();
  let renewedAt = -Infinity;
  const renew = (why: string): boolean => {
    if (performance.now() - renewedAt < 1000) return false;
    renewedAt = performance.now();
    const old = current;
    current = open();
    void closePool(old, graceSeconds);
    onRenew(why);
    return true;
  };
  /**
   * `answer`, or a QUERY_DEADLINE failure (and a renewed pool) if it has not settled in time. A
   * write refused as read-only renews the pool too (isReadOnlyRefusal).
   */
  const raceDeadline = (answer: Promise<unknown>, what: string): Promise<unknown> => {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise((_, reject) => {
      timer = setTimeout(() => {
        renew(`${what} gave no answer within ${queryTimeoutMs} ms`);
        reject(Object.assign(new Error(`no answer from the database within ${queryTimeoutMs} ms`), { code: QUERY_DEADLINE_CODE }));
      }, queryTimeoutMs);
    });
    return Promise.race([answer, deadline]).finally(() => clearTimeout(timer)).catch((error: unknown) => {
      if (isReadOnlyRefusal(error)) renew(`${what} was refused as read-only`);
      throw error;
    });
  };
  /** Awaiting the query starts it (postgres.js queries are lazy): the deadline starts with it. */
  const withDeadline = (query: Thenable): void => {
    const then = query.then;
    query.then = function deadlined(onFulfilled, onRejected) {
      return raceDeadline(then.call(query, (value: unknown) => value), 'a query').then(onFulfilled, onRejected);
    };
  };
  const sql = new Proxy(function pool() {} as unknown as Sql, {
    apply: (_target, thisArg, args) => {
      const result = Reflect.apply(current as unknown as (...a: unknown[]) => unknown, thisArg, args);
      if (Array.isArray(args[0]) && 'raw' in args[0] && typeof (result as Thenable)?.then === 'function') withDeadline(result as Thenable);
      return result;
    },
    get: (_target, property) => {
      const value = Reflect.get(current as object, property);
      if (property === 'begin') {
        return (...args: unknown[]) => raceDeadline((value as (...a: unknown[]) => Promise<unknown>).apply(current, args), 'a transaction');
      }
      return typeof value === 'function' ? value.bind(current) : value;
    },
  });
  return { sql, renew, current: () => current, close: (seconds) => closePool(current, seconds) };
}
