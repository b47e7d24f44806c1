import { createDatabase } from '../helpers/database';
import { createSql, type Sql } from '../../src/db/sql';
import { migrate } from '../../src/db/migrate';
import { BookingBatcher } from '../../src/db/bookings';
import { findCommitted, newStatementToken, type BookingRequest } from '../../src/db/booking-statement';
import { dayFromToday } from '../helpers/http';
import { ExistenceCache } from '../../src/domain/existence';
import { BookingService } from '../../src/domain/booking';
import { NamedRepository } from '../../src/db/named';
import { relayTo } from '../helpers/relay';
import { waitFor } from '../helpers/wait';
import { isDatabaseUnavailable } from '../../src/errors';

/**
 * The booking batcher (src/db/bookings.ts) on a real database, for what the HTTP tests cannot
 * time: a client that has gone before its booking's statement starts is dropped (client_gone),
 * and a dropped booking never leads the requests for the same slot in its batch.
 */
let database: Awaited<ReturnType<typeof createDatabase>>;
let sql: Sql;
let batcher: BookingBatcher;
let roomId: number;
const userIds: number[] = [];

beforeAll(async () => {
  database = await createDatabase();
  sql = createSql(database.url, { max: 2, applicationName: 'roombook-batcher-test' });
  await migrate(sql);
  [{ id: roomId }] = await sql`INSERT INTO rooms (name) VALUES ('BATCHED') RETURNING id`;
  for (const name of ['first', 'second']) userIds.push((await sql`INSERT INTO users (name) VALUES (${name}) RETURNING id`)[0].id);
  batcher = new BookingBatcher(() => createSql(database.url, { max: 1, applicationName: 'roombook-batcher-test', genericPlans: true }),
    { maxSize: 100, maxInFlight: 1, statementTimeoutMs: 5000, gatherMs: 0 });
});
afterAll(async () => {
  await batcher?.close();
  await sql?.end();
  await database?.drop();
});

let nextDay = 1;
const slot = (userId: number, day = dayFromToday(nextDay++)): BookingRequest => ({ roomId, roomName: null, userId, userName: null, day });
const present = (): { aborted: boolean } => ({ aborted: false });
const bookedBy = async (day: string) =>
  (await sql`SELECT user_id FROM bookings WHERE room_id = ${roomId} AND day = ${day}`).map((row) => row.user_id as number);

test('a client gone before the statement starts is not booked; the next request for its slot is', async () => {
  const gone = present();
  const request = slot(userIds[0]);
  const dropped = batcher.decide(request, gone);
  const follower = batcher.decide({ ...request, userId: userIds[1] }, present()); // same room and day
  gone.aborted = true; // the statement starts in the next turn of the event loop
  await expect(dropped).rejects.toMatchObject({ code: 'client_gone' });
  expect(await follower).toMatchObject({ outcome: 'booked', booking: { user_id: userIds[1], date: request.day } });
  expect(await bookedBy(request.day)).toEqual([userIds[1]]);
});

test('a batch whose clients have all gone sends no statement', async () => {
  const before = batcher.stats.batches;
  const clients: { aborted: boolean }[] = [];
  const requests = [slot(userIds[0]), slot(userIds[1])];
  const decisions = requests.map((request) => {
    const client = present();
    clients.push(client);
    return batcher.decide(request, client);
  });
  for (const client of clients) client.aborted = true;
  for (const decision of decisions) await expect(decision).rejects.toMatchObject({ code: 'client_gone' });
  await batcher.drained();
  expect(batcher.stats.batches).toBe(before);
  for (const request of requests) expect(await bookedBy(request.day)).toEqual([]);
});

test('a client gone after its statement was sent still has its booking decided', async () => {
  const client = present();
  const request = slot(userIds[0]);
  const decision = batcher.decide(request, client);
  await new Promise((resolve) => setImmediate(resolve)); // the batcher's own turn ran first: the statement is sent
  expect(batcher.statementsInFlight).toBe(1);
  client.aborted = true;
  expect(await decision).toMatchObject({ outcome: 'booked' });
  expect(await bookedBy(request.day)).toEqual([userIds[0]]);
});

test('requests without a client to watch are decided as before', async () => {
  const request = slot(userIds[1]);
  expect(await batcher.decide(request)).toMatchObject({ outcome: 'booked' });
  expect(await batcher.decide({ ...request, userId: userIds[0] })).toEqual({ outcome: 'already_booked' });
});

test('one statement answers each of its requests in full: a booking, a follower, a booked slot, a stale name, an unknown user', async () => {
  const taken = slot(userIds[0]);
  await batcher.decide(taken); // an earlier statement books this slot
  const fresh = slot(userIds[0]);
  const before = batcher.stats.batches;
  const [booked, follower, alreadyBooked, staleRoom, unknownUser] = await Promise.all([
    batcher.decide({ ...fresh, roomName: 'BATCHED', userName: 'first' }),
    batcher.decide(fresh), // same slot, room and user, same batch: follows the first
    batcher.decide({ ...taken, userId: userIds[1] }),
    batcher.decide({ ...slot(userIds[1]), roomName: 'RENAMED' }), // the cache's name is not the room's
    batcher.decide({ ...slot(2_000_000_000) }),
  ]);
  expect(batcher.stats.batches).toBe(before + 1);
  expect(booked).toEqual({ outcome: 'booked', booking: { id: expect.any(Number), room_id: roomId, room_name: 'BATCHED',
    user_id: userIds[0], user_name: 'first', date: fresh.day } });
  expect(follower).toEqual({ outcome: 'already_booked' });
  expect(alreadyBooked).toEqual({ outcome: 'already_booked' });
  expect(staleRoom).toEqual({ outcome: 'room_invalid' });
  expect(unknownUser).toEqual({ outcome: 'user_invalid' });
  expect(await bookedBy(fresh.day)).toEqual([userIds[0]]);
});

test('after a lost connection, only the rows its own statement wrote are its bookings, not a slot the same user held before', async () => {
  const before = slot(userIds[0]);
  expect(await batcher.decide(before)).toMatchObject({ outcome: 'booked' }); // an earlier statement, the same user
  const token = newStatementToken();
  const committed = slot(userIds[0]);
  // What the statement written with `token` committed before its connection died.
  const [{ id }] = await sql`INSERT INTO bookings (room_id, user_id, day, statement_token)
    VALUES (${roomId}, ${userIds[0]}, ${committed.day}::date, ${token}::bigint) RETURNING id::int`;
  const notCommitted = slot(userIds[0]);
  expect(await findCommitted(sql, [before, committed, notCommitted], token)).toEqual([
    undefined, // decided again, by a statement that checks its names
    { outcome: 'booked', booking: { id, room_id: roomId, room_name: 'BATCHED', user_id: userIds[0], user_name: 'first', date: committed.day } },
    undefined,
  ]);
  // The rows the batcher's own statements write carry their token: never one another's.
  const tokens = await sql`SELECT statement_token::text FROM bookings WHERE day IN (${before.day}::date, ${committed.day}::date)`;
  expect(new Set(tokens.map((row) => row.statement_token)).size).toBe(2);
  expect(tokens.every((row) => typeof row.statement_token === 'string')).toBe(true);
});

// A stale cache entry meets a booking of the same room by id in one batch: the room was renamed and
// its old name given to another room, and this worker has not heard yet. The stale request follows
// the other (same room id, same day), and was answered already booked for a room it does not name.
test('a follower naming its room by another name is decided anew: a stale name is looked up again, not answered already booked', async () => {
  const day = dayFromToday(nextDay++);
  const [{ id: renamed }] = await sql`INSERT INTO rooms (name) VALUES ('NOW-RENAMED') RETURNING id`;
  const [{ id: reused }] = await sql`INSERT INTO rooms (name) VALUES ('OLD-NAME') RETURNING id`;
  const cache = new ExistenceCache();
  cache.rooms.set('OLD-NAME', renamed); // what this worker still believes
  cache.users.set('second', userIds[1]); // both ids come from the cache: the two requests join one batch
  const service = new BookingService(cache, { room: new NamedRepository(sql, 'room'), user: new NamedRepository(sql, 'user') },
    batcher, () => dayFromToday(0));
  const [byId, byStaleName] = await Promise.all([
    service.book({ room: { id: renamed }, user: { id: userIds[0] }, date: day }),
    service.book({ room: { name: 'old-name' }, user: { name: 'second' }, date: day }),
  ]);
  expect(byId).toMatchObject({ booked: { room_id: renamed } });
  expect(byStaleName).toMatchObject({ booked: { room_id: reused, room_name: 'OLD-NAME', user_id: userIds[1] } });
});

// A follower is answered from its leader's row only where that row checked what it names. A
// booking by an id that names no user (or a user deleted meanwhile) was answered already booked
// when it followed another booking of its slot, where alone it is answered user_invalid.
test('a follower for another user is decided anew: an unknown user is user_invalid, a known one already_booked', async () => {
  const day = slot(userIds[0]);
  const [booked, unknownUser, otherUser] = await Promise.all([
    batcher.decide(day),
    batcher.decide({ ...day, userId: 2_000_000_000 }),
    batcher.decide({ ...day, userId: userIds[1], userName: 'second' }),
  ]);
  expect(booked).toMatchObject({ outcome: 'booked', booking: { user_id: userIds[0] } });
  expect(unknownUser).toEqual({ outcome: 'user_invalid' });
  expect(otherUser).toEqual({ outcome: 'already_booked' });
  expect(await bookedBy(day.day)).toEqual([userIds[0]]);
});

// After a lost connection, a slot held by another booking was answered already booked from the
// lookup alone, which checks no name: the statement would have said the user does not exist, or
// that the cached room name is stale (and the room now so named may be free that day).
test('after a lost connection, a request for a slot another booking holds is decided anew: an unknown user, a stale room name', async () => {
  const { relay, url } = await relayTo(database.url);
  const relayed = new BookingBatcher(() => createSql(url, { max: 1, applicationName: 'roombook-bookings', genericPlans: true }),
    { maxSize: 100, maxInFlight: 1, statementTimeoutMs: 5000, gatherMs: 0 });
  try {
    const [taken, alsoTaken] = [slot(userIds[0]), slot(userIds[0])];
    await Promise.all([batcher.decide(taken), batcher.decide(alsoTaken)]);
    relay.failNextQueryContaining('roombook-bookings', 'WITH input', 'reset'); // never reaches the server
    const [unknownUser, staleRoom] = await Promise.all([
      relayed.decide({ ...taken, userId: 2_000_000_000 }),
      relayed.decide({ ...alsoTaken, roomName: 'RENAMED', userId: userIds[1] }),
    ]);
    expect(unknownUser).toEqual({ outcome: 'user_invalid' });
    expect(staleRoom).toEqual({ outcome: 'room_invalid' });
    expect(relay.startupsOf('roombook-bookings')).toBe(2); // the statement did lose its connection
  } finally {
    await relayed.close();
    await relay.close();
  }
});
// A request decided anew (its leader's room name was stale) went to the back of the queue, behind a
// request for its slot that arrived while the statement ran, which then led the next batch and won.
test('a request decided anew keeps its place in the queue: it wins its slot over a later arrival', async () => {
  const day = slot(userIds[0]);
  const stale = batcher.decide({ ...day, roomName: 'RENAMED' }); // leads the batch: room_invalid
  const earlier = batcher.decide(day); // follows it, so is decided anew
  await new Promise((resolve) => setImmediate(resolve)); // the statement is sent
  expect(batcher.statementsInFlight).toBe(1);
  const later = batcher.decide({ ...day, userId: userIds[1] }); // arrives while it runs
  expect(await stale).toEqual({ outcome: 'room_invalid' });
  expect(await earlier).toMatchObject({ outcome: 'booked', booking: { user_id: userIds[0] } });
  expect(await later).toEqual({ outcome: 'already_booked' });
  expect(await bookedBy(day.day)).toEqual([userIds[0]]);
});


// A booking connection that a middlebox drops while its statement waits for a lock (another
// worker's insert of the slot, a room delete): the client sees the connection fail at once, the
// server's statement runs on when the lock is free, and commits. The lookup on a new connection
// ran before that commit, found nothing and had the booking decided again: that statement met the
// first one's row and the request was answered already booked, for the booking it had just made.
test('a statement whose connection was dropped while it waited for a lock is over before its outcome is looked up', async () => {
  const { relay, url } = await relayTo(database.url);
  const relayed = new BookingBatcher(() => createSql(url, { max: 1, applicationName: 'roombook-bookings', genericPlans: true }),
    { maxSize: 100, maxInFlight: 1, statementTimeoutMs: 5000, gatherMs: 0 });
  let releaseLock = () => {};
  try {
    // Prepared on its connection first: the statement that waits for the lock is then sent whole (Bind, Execute, Sync).
    expect(await relayed.decide(slot(userIds[1]))).toMatchObject({ outcome: 'booked' });
    await new Promise<void>((locked) => void sql.begin(async (tx) => {
      await tx`LOCK TABLE bookings IN SHARE ROW EXCLUSIVE MODE`; // what a room delete takes
      locked();
      await new Promise<void>((release) => (releaseLock = release));
    }));
    const request = slot(userIds[0]);
    const decision = relayed.decide(request);
    const waitingForLock = async () => (await sql`SELECT pid FROM pg_stat_activity
      WHERE application_name = 'roombook-bookings' AND wait_event_type = 'Lock'`).map((row) => row.pid as number);
    await waitFor('the statement to wait for the lock', async () => (await waitingForLock()).length === 1, 5000, 10);
    const [first] = await waitingForLock();
    const again = relay.holdNextQueryContaining('roombook-bookings', 'WITH input');
    expect(relay.reset('roombook-bookings')).toBe(1);
    const decidedAgain = await Promise.race([again.seen.then(() => true), decision.then(() => false, () => false)]);
    releaseLock();
    if (decidedAgain) {
      // Whatever the first statement does with the lock free, it has done once its backend is gone
      // (a lost client is noticed at the answer, after the commit); the second reaches the server after.
      const firstGone = async () => (await sql`SELECT FROM pg_stat_activity WHERE pid = ${first}`).length === 0;
      await waitFor('the first statement\'s backend to end', firstGone, 5000, 10);
      again.release();
    }
    expect(await decision).toMatchObject({ outcome: 'booked', booking: { user_id: userIds[0], date: request.day } });
    expect(await bookedBy(request.day)).toEqual([userIds[0]]);
  } finally {
    releaseLock(); // the transaction ends whatever happened
    await relayed.close();
    await relay.close();
  }
});

// A gather wait whose bookings all had their clients gone by its end started no statement, yet was
// counted as a statement's wait that ran out (roombook_booking_gather_waits_total) and made the
// next statements skip their wait as after one.
test('a gather wait whose clients have all gone counts no statement\'s wait', async () => {
  const gathering = new BookingBatcher(() => createSql(database.url, { max: 1, applicationName: 'roombook-batcher-test', genericPlans: true }),
    { maxSize: 100, maxInFlight: 1, statementTimeoutMs: 5000, gatherMs: 20 });
  try {
    // A statement of two: the next waits for two bookings.
    await Promise.all([gathering.decide(slot(userIds[0])), gathering.decide(slot(userIds[1]))]);
    const client = present();
    const gone = gathering.decide(slot(userIds[0]), client);
    client.aborted = true; // before the wait ends
    await expect(gone).rejects.toMatchObject({ code: 'client_gone' });
    await gathering.drained();
    expect(gathering.stats.batches).toBe(1);
    expect(gathering.gatherWaits).toEqual({ met: 0, ranOut: 0 });
  } finally {
    await gathering.close();
  }
});

// A booking whose statement lost its connection before committing was decided again, and again,
// for as long as that went on (a middlebox that resets connections under load, while the smaller
// lookups get through): its client waited all that time, and for ever if it never stopped.
test('a booking whose statement keeps losing its connection is answered 503 after three statements, not retried for as long as that goes on', async () => {
  const { relay, url } = await relayTo(database.url);
  const relayed = new BookingBatcher(() => createSql(url, { max: 1, applicationName: 'roombook-bookings', genericPlans: true }),
    { maxSize: 100, maxInFlight: 1, statementTimeoutMs: 5000, gatherMs: 0 });
  try {
    for (let i = 0; i < 6; i++) relay.failNextQueryContaining('roombook-bookings', 'WITH input', 'reset');
    const request = slot(userIds[0]);
    const [lead, follower] = await Promise.allSettled([relayed.decide(request), relayed.decide({ ...request, userId: userIds[1] })]);
    for (const answer of [lead, follower]) {
      expect(answer.status).toBe('rejected');
      expect(isDatabaseUnavailable((answer as PromiseRejectedResult).reason)).toBe(true); // 503 db_unavailable
    }
    expect(relay.startupsOf('roombook-bookings')).toBe(4); // a pool for each statement, and for the last lookup
    expect(await bookedBy(request.day)).toEqual([]);
  } finally {
    await relayed.close();
    await relay.close();
  }
});
