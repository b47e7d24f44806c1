import postgres from 'postgres';
import { serverUrl } from '../helpers/database';

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
