import type postgres from 'postgres';
import type { RunningServer } from '../helpers/server';
import type { SilencingRelay } from '../helpers/relay';
import { startRelayedServer, type RelayedServer, type Timed } from '../helpers/relayed-server';
import { waitFor } from '../helpers/wait';

/**
 * Database calls that do not come back must not hold a worker up. Under a 1-worker roombook
 * reaching its database through a relay that can silence connections:
 *
 * A booking statement (one runs at a time per worker, BATCH_MAX_IN_FLIGHT=1), two ways:
 * - held up in the database (here: a lock on the bookings table): statement_timeout cancels it,
 *   its bookings get 503 db_unavailable and nothing is written;
 * - its connection goes silent (no FIN, no RST): the watchdog replaces the booking connections
 *   BOOKING_STATEMENT_TIMEOUT_MS + 2 s after the statement began, looks its outcome up, and the
 *   bookings are decided on a new connection. If the lookup's connection goes silent too, the
 *   watchdog fires again: the batch gets 503, and the bookings behind it go on.
 * A read connection gone silent: the query on it fails at QUERY_TIMEOUT_MS (its request gets a
 * 503), the worker renews its read connections, and the next requests are answered at once.
 */
jest.setTimeout(40_000);

const TIMEOUT_MS = 1000; // BOOKING_STATEMENT_TIMEOUT_MS for this file
const WATCHDOG_MS = TIMEOUT_MS + 2000;
const QUERY_TIMEOUT_MS = 3000; // QUERY_TIMEOUT_MS for this file
const say = (line: string) => process.stdout.write(`[stalled] ${line}\n`);

let setup: RelayedServer;
let relay: SilencingRelay;
let server: RunningServer;
let sql: postgres.Sql;
let api: RelayedServer['api'];
let room: RelayedServer['room'];
let bookDays: RelayedServer['bookDays'];
let rowsFrom: RelayedServer['rowsFrom'];

beforeAll(async () => {
  setup = await startRelayedServer({ BOOKING_STATEMENT_TIMEOUT_MS: String(TIMEOUT_MS), QUERY_TIMEOUT_MS: String(QUERY_TIMEOUT_MS) },
    { room: 'STALL', user: 'staller' });
  ({ relay, server, sql, api, room, bookDays, rowsFrom } = setup);
});
afterAll(() => setup?.close());

test('a statement held up by a lock is cancelled by statement_timeout: 503 within about the timeout, nothing written', async () => {
  expect((await bookDays(1, 1))[0].answer.status).toBe(201); // the booking connection is open
  let answers: Timed[] = [];
  await sql.begin(async (tx) => {
    await tx`LOCK TABLE bookings IN SHARE ROW EXCLUSIVE MODE`; // what a room delete takes, held on
    answers = await bookDays(10, 5);
  });
  say(`under the lock: ${answers.map(({ answer, ms }) => `${answer.status} ${answer.body?.error ?? ''} ${ms} ms`).join('; ')}`);
  for (const { answer, ms } of answers) {
    expect({ status: answer.status, error: answer.body.error }).toEqual({ status: 503, error: 'db_unavailable' });
    expect(answer.headers.get('retry-after')).toBe('1');
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(ms).toBeLessThan(WATCHDOG_MS); // the database's own timeout answered, not the watchdog
  }
  expect(await rowsFrom(10, 5)).toBe(0);

  const again = await bookDays(10, 5); // the lock is gone: the same days are free and booked
  expect(again.map(({ answer }) => answer.status)).toEqual(Array(5).fill(201));
  expect(await rowsFrom(10, 5)).toBe(5);
  expect(server.logs()).not.toContain('gave no answer in time');
});

test('a booking connection gone silent is replaced by the watchdog; the bookings waiting on it are booked', async () => {
  expect((await bookDays(20, 1))[0].answer.status).toBe(201);
  expect(relay.silence('roombook-bookings')).toBe(1); // BATCH_MAX_IN_FLIGHT=1: one booking connection

  const answers = await bookDays(30, 5);
  say(`through the silenced connection: ${answers.map(({ answer, ms }) => `${answer.status} ${ms} ms`).join('; ')}`);
  for (const { answer, ms } of answers) {
    expect(answer.status).toBe(201);
    expect(ms).toBeGreaterThanOrEqual(WATCHDOG_MS - 50);
    expect(ms).toBeLessThan(WATCHDOG_MS + 3000);
  }
  expect(await rowsFrom(30, 5)).toBe(5);
  expect(server.logs()).toContain('gave no answer in time');
  expect(relay.live('roombook-bookings')).toBe(1); // a new connection, not the silenced one

  const after = await bookDays(40, 3); // and the worker books at its usual pace again
  expect(after.map(({ answer }) => answer.status)).toEqual(Array(3).fill(201));
  for (const { ms } of after) expect(ms).toBeLessThan(TIMEOUT_MS);
});

test('a read connection gone silent: the query on it fails at its deadline (503), the next requests get a 200 at once', async () => {
  expect((await api.get(`/rooms/${room.id}`)).status).toBe(200);
  expect(relay.silence('roombook')).toBeGreaterThanOrEqual(1); // every open read connection
  const started = Date.now();
  const stuck = await api.get(`/rooms/${room.id}`);
  const stuckMs = Date.now() - started;
  say(`read through the silenced connection: ${stuck.status} ${stuck.body?.error ?? ''} after ${stuckMs} ms`);
  expect({ status: stuck.status, error: stuck.body.error }).toEqual({ status: 503, error: 'db_unavailable' });
  expect(stuck.headers.get('retry-after')).toBe('1');
  expect(stuckMs).toBeGreaterThanOrEqual(QUERY_TIMEOUT_MS - 50);
  expect(stuckMs).toBeLessThan(QUERY_TIMEOUT_MS + 1000);
  // Log lines reach the test a moment after the answer (pino writes asynchronously).
  for (const until = Date.now() + 2000; !server.logs().includes('read connections renewed') && Date.now() < until;) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(server.logs()).toContain('read connections renewed');
  for (let i = 0; i < 3; i++) {
    const at = Date.now();
    expect((await api.get(`/rooms/${room.id}`)).status).toBe(200);
    expect(Date.now() - at).toBeLessThan(1000);
  }
});

const roombookSessions = async (where: 'waiting on a lock' | 'idle in transaction'): Promise<number> => {
  const [{ n }] = where === 'waiting on a lock'
    ? await sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'roombook' AND wait_event_type = 'Lock'`
    : await sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'roombook' AND state = 'idle in transaction'`;
  return n;
};

test('a room delete cut off mid-transaction: 503 at its deadline, and PostgreSQL ends the transaction so bookings go on', async () => {
  const doomed = (await api.post('/rooms', { name: 'DOOMED' })).body;
  expect((await bookDays(50, 1))[0].answer.status).toBe(201);
  // Hold the room's row: the delete stops at its last statement, with its lock on bookings taken.
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let holding!: () => void;
  const held = new Promise<void>((resolve) => (holding = resolve));
  const holder = sql.begin(async (tx) => {
    await tx`SELECT id FROM rooms WHERE id = ${doomed.id} FOR UPDATE`;
    holding();
    await released;
  });
  await held;
  const started = Date.now();
  const deleting = api.del(`/rooms/${doomed.id}`);
  await waitFor('the delete waiting on the row lock', async () => (await roombookSessions('waiting on a lock')) === 1, 2000);
  expect(relay.silence('roombook')).toBeGreaterThanOrEqual(1);
  release();
  await holder;
  // The delete ends on the server; its answer, and so the COMMIT, are lost on the way: the
  // transaction sits idle with its lock on bookings.
  await waitFor('the delete idle in its transaction', async () => (await roombookSessions('idle in transaction')) === 1, 2000);

  const answer = await deleting;
  const ms = Date.now() - started;
  say(`room delete on a connection cut off mid-transaction: ${answer.status} ${answer.body?.error ?? ''} after ${ms} ms`);
  expect({ status: answer.status, error: answer.body.error }).toEqual({ status: 503, error: 'db_unavailable' });
  expect(ms).toBeGreaterThanOrEqual(QUERY_TIMEOUT_MS - 50);
  expect(ms).toBeLessThan(QUERY_TIMEOUT_MS + 1000);
  // Answered by roombook's own deadline on the transaction, not by the server ending the session.
  await waitFor('the deadline\'s log line', () => server.logs().includes('a transaction gave no answer within'), 2000);

  // idle_in_transaction_session_timeout (QUERY_TIMEOUT_MS) ends it: rolled back, the lock gone.
  const endedMs = await waitFor('the abandoned transaction to end', async () => (await roombookSessions('idle in transaction')) === 0, QUERY_TIMEOUT_MS + 2000);
  say(`the abandoned transaction ended ${endedMs} ms after the 503`);
  expect(await sql`SELECT id FROM rooms WHERE id = ${doomed.id}`).toHaveLength(1); // rolled back: the 503 promised nothing
  const after = await bookDays(51, 3);
  expect(after.map(({ answer: a }) => a.status)).toEqual(Array(3).fill(201));
  for (const { ms: bookingMs } of after) expect(bookingMs).toBeLessThan(TIMEOUT_MS);
});

// After the watchdog, the outcome is looked up on a new connection. A path still dropping packets
// can let that connection open and then silence its query: the lookup had no watchdog, and the
// worker's bookings waited on it for as long as the kernel kept retransmitting (many minutes).
test('a lookup after the watchdog that goes silent too is cut off by the watchdog again: 503, then bookings go on', async () => {
  expect((await bookDays(60, 1))[0].answer.status).toBe(201);
  expect(relay.silence('roombook-bookings')).toBe(1);
  relay.silenceNextAtFirstQuery('roombook-bookings'); // the connection the lookup opens

  const answers = await bookDays(70, 3);
  say(`statement and lookup silenced: ${answers.map(({ answer, ms }) => `${answer.status} ${answer.body?.error ?? ''} ${ms} ms`).join('; ')}`);
  // The stuck batch's bookings get 503 when the watchdog fires a second time; any that arrived too
  // late for it waited behind it and are decided afterwards, on a new connection.
  const refused = answers.filter(({ answer }) => answer.status === 503);
  expect(refused.length).toBeGreaterThan(0);
  for (const { answer, ms } of answers) {
    if (answer.status === 503) expect(answer.body.error).toBe('db_unavailable');
    else expect(answer.status).toBe(201);
    expect(ms).toBeGreaterThanOrEqual(2 * WATCHDOG_MS - 50);
    expect(ms).toBeLessThan(2 * WATCHDOG_MS + 3000);
  }
  expect(await rowsFrom(70, 3)).toBe(3 - refused.length); // a refused statement never reached the database

  const after = await bookDays(70, 3); // a 503 promises nothing: the same days, asked again, are booked or already
  expect(after.map(({ answer }) => answer.status).sort()).toEqual([...Array(3 - refused.length).fill(409), ...Array(refused.length).fill(201)].sort());
  expect(await rowsFrom(70, 3)).toBe(3);
});
