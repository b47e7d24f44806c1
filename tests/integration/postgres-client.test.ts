import postgres from 'postgres';
import { serverUrl } from '../helpers/database';
import { relayTo } from '../helpers/relay';
import { waitFor } from '../helpers/wait';

/**
 * The postgres.js that roombook loads, against a real server, where its behaviour decides ours:
 * every pool roombook replaces (the listener's, the booking and read pools after a failure) is
 * ended with end({ timeout: 0 }), and must then hold no connection. A connection that had closed
 * and was waiting out its backoff used to reconnect anyway once the backoff ran out, and stay
 * open in the ended pool (the third fix of scripts/patch-postgres.cjs).
 */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a pool ended while its connection waits to reconnect leaves no connection behind', async () => {
  const admin = postgres(serverUrl(), { max: 1, onnotice: () => {} });
  const application = `roombook-reconnect-test-${process.pid}`;
  const connections = async (): Promise<number> =>
    (await admin`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = ${application}`)[0].n;
  // A backoff of a second: the reconnect is still pending when the pool is ended.
  const pool = postgres(serverUrl(), { max: 1, backoff: () => 1, onnotice: () => {}, connection: { application_name: application } });
  try {
    await pool`SELECT 1`;
    expect(await connections()).toBe(1);
    await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${application}`;
    await sleep(200); // the pool has seen its connection close
    const waiting = pool`SELECT 1`.catch((error: { code?: string }) => error.code); // queued behind the backoff
    await Promise.race([pool.end({ timeout: 0 }), sleep(1000)]);
    expect(await waiting).toBe('CONNECTION_DESTROYED');
    await sleep(2000); // past the backoff
    expect(await connections()).toBe(0);
  } finally {
    await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${application}`;
    await admin.end();
  }
});

/**
 * A new connection first fetches the array types (fetch_types), in a promise postgres.js holds
 * nowhere: a pool ended while that query runs rejected it unhandled, which ends the process (the
 * fourth fix). Here the connection goes silent as it sends that query, and the pool is ended.
 */
test('a pool ended while its new connection fetches its types: the waiting query fails, and nothing is left unhandled', async () => {
  const unhandled: unknown[] = [];
  const note = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', note);
  const { relay, url } = await relayTo(serverUrl());
  const application = `roombook-types-test-${process.pid}`;
  relay.silenceNextAtFirstQuery(application); // the first query is the types query
  const pool = postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: application } });
  try {
    const waiting = pool`SELECT 1`.catch((error: { code?: string }) => error.code);
    await waitFor('the types query silenced', () => relay.silenced(application) === 1, 5000);
    await Promise.race([pool.end({ timeout: 0 }), sleep(1000)]);
    expect(await waiting).toBe('CONNECTION_DESTROYED');
    await sleep(100); // an unhandled rejection is reported after the microtasks have run
    expect(unhandled).toEqual([]);
  } finally {
    process.off('unhandledRejection', note);
    await relay.close();
  }
});

/**
 * pg_terminate_backend sends FATAL 57P01 and closes. postgres.js kept that error past the close and
 * handed it to the next connection's first query, on a healthy connection (the fifth fix); a
 * connection opened so also skipped its array types, and array parameters then failed (22P02).
 */
test('a connection terminated under a query: the next query, on a new connection, is not failed with the old error', async () => {
  const admin = postgres(serverUrl(), { max: 1, onnotice: () => {} });
  const application = `roombook-terminated-test-${process.pid}`;
  const pool = postgres(serverUrl(), { max: 1, onnotice: () => {}, connection: { application_name: application } });
  try {
    await pool`SELECT 1`;
    const running = pool`SELECT pg_sleep(10)`.catch((error: { code?: string }) => error.code);
    await waitFor('the query to run', async () => (await admin`SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE application_name = ${application} AND state = 'active'`)[0].n === 1, 5000);
    await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${application}`;
    expect(['57P01', 'CONNECTION_CLOSED']).toContain(await running);
    expect(await pool`SELECT 2 AS two`).toEqual([{ two: 2 }]);
  } finally {
    await pool.end({ timeout: 0 });
    await admin.end();
  }
});

test('a connection terminated while it fetches its types: the next query is answered, and array types work', async () => {
  const { relay, url } = await relayTo(serverUrl());
  const application = `roombook-types-terminated-test-${process.pid}`;
  relay.failNextAtFirstQuery(application, 'terminated'); // the first query is the types query
  const pool = postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: application } });
  try {
    // The query that opened the connection is answered, or fails as a lost connection (it never ran).
    expect(['answered', '57P01', 'CONNECTION_CLOSED']).toContain(await pool`SELECT 1`.then(() => 'answered', (error: { code?: string }) => error.code));
    expect(await pool`SELECT ${[1, 2]}::int[] AS sent, array[3, 4]::int[] AS read`).toEqual([{ sent: [1, 2], read: [3, 4] }]);
  } finally {
    await pool.end({ timeout: 0 });
    await relay.close();
  }
});
