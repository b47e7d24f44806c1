import type postgres from 'postgres';
import { connect, createDatabase, deleteRoomsSilently, insertRoomsSilently, roomCount } from '../helpers/database';
import { startServer, type RunningServer } from '../helpers/server';
import { dayFromToday, onNewConnection } from '../helpers/http';
import { relayTo, type SilencingRelay } from '../helpers/relay';
import { waitFor } from '../helpers/wait';

/**
 * Stories that only a cluster can get wrong: every request below opens a connection of its own
 * (agent: false), and the kernel spreads new connections over the workers (SO_REUSEPORT), so a
 * write answered by one worker is read back by the others.
 */
const ADMIN_TOKEN = 'cross-worker-admin-token';
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };
const USER = 'cross-worker-user';

interface Answer {
  status: number;
  body: any;
}

/** One request on a new connection. */
function fresh(port: number, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return onNewConnection('127.0.0.1', port, method, path, body, headers);
}

/** Books `roomName` on each of `days`, all at once, each on a new connection. */
function bookAll(port: number, roomName: string, days: string[]): Promise<Answer[]> {
  return Promise.all(days.map((date) => fresh(port, 'POST', '/book', { room_name: roomName, user_name: USER, date })));
}

/** `count` consecutive days starting `offset` days from today. */
const days = (offset: number, count: number): string[] => Array.from({ length: count }, (_, i) => dayFromToday(offset + i));

const statuses = (answers: Answer[]): number[] => answers.map((answer) => answer.status);
const errorCodes = (answers: Answer[]): string[] => answers.map((answer) => answer.body?.error);

/** The rooms count of GET /ready from `samples` new connections: one answer per connection, any worker. */
async function readyRoomCounts(port: number, samples = 24): Promise<number[]> {
  const answers = await Promise.all(Array.from({ length: samples }, () => fresh(port, 'GET', '/ready')));
  return answers.map((answer) => (answer.status === 200 ? answer.body.rooms : -answer.status));
}

async function everyWorkerCounts(port: number, rooms: number): Promise<boolean> {
  return (await readyRoomCounts(port)).every((count) => count === rooms);
}

async function listenerPids(sql: postgres.Sql): Promise<number[]> {
  const rows = await sql`SELECT pid FROM pg_stat_activity
    WHERE application_name = 'roombook-listener' AND datname = current_database()`;
  return rows.map((row) => row.pid as number);
}

describe('three workers, one database', () => {
  const WORKERS = 3;
  let server: RunningServer;
  let database: Awaited<ReturnType<typeof createDatabase>>;
  let sql: postgres.Sql;

  beforeAll(async () => {
    database = await createDatabase();
    server = await startServer({ databaseUrl: database.url, workers: WORKERS, env: { ADMIN_TOKEN } });
    sql = connect(database.url);
    expect((await fresh(server.port, 'POST', '/users', { name: USER }, ADMIN)).status).toBe(201);
  });
  afterAll(async () => {
    await sql?.end();
    await server?.stop();
    await database?.drop();
  });

  test('new connections reach every worker (the premise of this file)', async () => {
    const before = await roomCount(sql);
    await waitFor('every worker to agree on the rooms', () => everyWorkerCounts(server.port, before), 5000);
    await insertRoomsSilently(sql, ['SPREAD']);
    // One booking: only the worker that answers it looks the room up and caches it.
    expect((await bookAll(server.port, 'SPREAD', days(1, 1)))[0].status).toBe(201);
    expect(new Set(await readyRoomCounts(server.port, 60))).toEqual(new Set([before, before + 1]));
    // Enough bookings on new connections, and every worker has answered one.
    expect(statuses(await bookAll(server.port, 'SPREAD', days(2, 40)))).toEqual(Array(40).fill(201));
    expect(await readyRoomCounts(server.port, 60)).toEqual(Array(60).fill(before + 1));
  });

  test('a room created through the API is booked at once on every worker (a cache miss asks the database)', async () => {
    for (let round = 1; round <= 3; round++) {
      const created = await fresh(server.port, 'POST', '/rooms', { name: `api-room-${round}` }, ADMIN);
      expect(created.status).toBe(201);
      const answers = await bookAll(server.port, `API-ROOM-${round}`, days(1, 50));
      expect(statuses(answers)).toEqual(Array(50).fill(201));
      expect(new Set(answers.map((answer) => answer.body.id)).size).toBe(50);
      const [{ count }] = await sql`SELECT count(*)::int AS count FROM bookings WHERE room_id = ${created.body.id}`;
      expect(count).toBe(50);
    }
  });

  test('the same when the notification never comes: only the lookup on a miss can find the room', async () => {
    // NOTIFY usually beats the bookings to the other workers; with the trigger off it cannot.
    await sql`ALTER TABLE rooms DISABLE TRIGGER rooms_notify`;
    try {
      expect((await fresh(server.port, 'POST', '/rooms', { name: 'api-unheard' }, ADMIN)).status).toBe(201);
    } finally {
      await sql`ALTER TABLE rooms ENABLE TRIGGER rooms_notify`;
    }
    expect(statuses(await bookAll(server.port, 'API-UNHEARD', days(1, 50)))).toEqual(Array(50).fill(201));
  });

  test('a room inserted by SQL is booked by name at once, whether or not the workers were notified', async () => {
    await sql`INSERT INTO rooms (name) VALUES ('SQL-NOTIFIED')`;
    expect(statuses(await bookAll(server.port, 'sql-notified', days(1, 30)))).toEqual(Array(30).fill(201));

    await insertRoomsSilently(sql, ['SQL-SILENT']);
    expect(statuses(await bookAll(server.port, 'sql-silent', days(1, 30)))).toEqual(Array(30).fill(201));
  });

  test('after a rename the old name is refused everywhere, the new one booked, and a new room may take the old name', async () => {
    const room = (await fresh(server.port, 'POST', '/rooms', { name: 'OLD-NAME' }, ADMIN)).body;
    expect(statuses(await bookAll(server.port, 'OLD-NAME', days(1, 30)))).toEqual(Array(30).fill(201)); // every worker knows it

    expect((await fresh(server.port, 'PATCH', `/rooms/${room.id}`, { name: 'NEW-NAME' }, ADMIN)).status).toBe(200);
    const byOldName = await bookAll(server.port, 'OLD-NAME', days(31, 30));
    expect(statuses(byOldName)).toEqual(Array(30).fill(409));
    expect(errorCodes(byOldName)).toEqual(Array(30).fill('room_not_found'));
    const byNewName = await bookAll(server.port, 'NEW-NAME', days(31, 30));
    expect(statuses(byNewName)).toEqual(Array(30).fill(201));
    expect(byNewName.every((answer) => answer.body.room_id === room.id)).toBe(true);

    const successor = (await fresh(server.port, 'POST', '/rooms', { name: 'OLD-NAME' }, ADMIN)).body;
    const bySuccessor = await bookAll(server.port, 'OLD-NAME', days(1, 30));
    expect(statuses(bySuccessor)).toEqual(Array(30).fill(201));
    expect(bySuccessor.every((answer) => answer.body.room_id === successor.id)).toBe(true);
    const [{ count }] = await sql`SELECT count(*)::int AS count FROM bookings WHERE room_id = ${room.id}`;
    expect(count).toBe(60);
  });

  test('after a delete the name is refused everywhere, until a new room takes it', async () => {
    const room = (await fresh(server.port, 'POST', '/rooms', { name: 'DOOMED' }, ADMIN)).body;
    expect(statuses(await bookAll(server.port, 'DOOMED', days(1, 30)))).toEqual(Array(30).fill(201));

    expect((await fresh(server.port, 'DELETE', `/rooms/${room.id}?cascade=true`, undefined, ADMIN)).status).toBe(204);
    const afterDelete = await bookAll(server.port, 'DOOMED', days(31, 30));
    expect(statuses(afterDelete)).toEqual(Array(30).fill(409));
    expect(errorCodes(afterDelete)).toEqual(Array(30).fill('room_not_found'));

    const successor = (await fresh(server.port, 'POST', '/rooms', { name: 'DOOMED' }, ADMIN)).body;
    const bySuccessor = await bookAll(server.port, 'DOOMED', days(1, 30));
    expect(statuses(bySuccessor)).toEqual(Array(30).fill(201));
    expect(bySuccessor.every((answer) => answer.body.room_id === successor.id)).toBe(true);
  });

  test('a rename or delete no worker was told about (trigger off) never books the wrong room', async () => {
    const renamed = (await fresh(server.port, 'POST', '/rooms', { name: 'QUIET-OLD' }, ADMIN)).body;
    const deleted = (await fresh(server.port, 'POST', '/rooms', { name: 'QUIET-GONE' }, ADMIN)).body;
    expect(statuses(await bookAll(server.port, 'QUIET-OLD', days(1, 30)))).toEqual(Array(30).fill(201)); // cached everywhere
    expect(statuses(await bookAll(server.port, 'QUIET-GONE', days(100, 30)))).toEqual(Array(30).fill(201));
    await sql.begin(async (tx) => {
      await tx`ALTER TABLE rooms DISABLE TRIGGER rooms_notify`;
      await tx`UPDATE rooms SET name = 'QUIET-NEW' WHERE id = ${renamed.id}`;
      await tx`DELETE FROM rooms WHERE id = ${deleted.id}`;
      await tx`ALTER TABLE rooms ENABLE TRIGGER rooms_notify`;
    });

    for (const name of ['QUIET-OLD', 'QUIET-GONE']) {
      const stale = await bookAll(server.port, name, days(31, 30));
      expect(statuses(stale)).toEqual(Array(30).fill(409));
      expect(errorCodes(stale)).toEqual(Array(30).fill('room_not_found'));
    }
    const [{ count }] = await sql`SELECT count(*)::int AS count FROM bookings WHERE room_id = ${renamed.id}`;
    expect(count).toBe(30);
    expect(statuses(await bookAll(server.port, 'QUIET-NEW', days(31, 30)))).toEqual(Array(30).fill(201));
  });

  test('200 clients booking the same room and day on their own connections: exactly one wins', async () => {
    const room = (await fresh(server.port, 'POST', '/rooms', { name: 'CONTESTED' }, ADMIN)).body;
    const day = dayFromToday(7);
    const answers = await Promise.all(Array.from({ length: 200 }, () =>
      fresh(server.port, 'POST', '/book', { room_name: 'contested', user_name: USER, date: day })));

    const winners = answers.filter((answer) => answer.status === 201);
    expect(winners).toHaveLength(1);
    const losers = answers.filter((answer) => answer.status !== 201);
    expect(statuses(losers)).toEqual(Array(199).fill(409));
    expect(errorCodes(losers)).toEqual(Array(199).fill('already_booked'));
    const rows = await sql`SELECT id::int AS id FROM bookings WHERE room_id = ${room.id} AND day = ${day}::date`;
    expect(rows.map((row) => row.id)).toEqual([winners[0].body.id]);
  });

  test('listeners killed by the database come back and reload the cache, then hear notifications again', async () => {
    await waitFor(`${WORKERS} listeners`, async () => (await listenerPids(sql)).length === WORKERS, 5000);
    const before = await roomCount(sql);
    await waitFor('every worker to agree on the rooms', () => everyWorkerCounts(server.port, before), 5000);

    await insertRoomsSilently(sql, ['SILENT-1', 'SILENT-2', 'SILENT-3']);
    expect(await readyRoomCounts(server.port)).toEqual(Array(24).fill(before)); // nobody heard of them

    const killed = await sql`SELECT pid, pg_terminate_backend(pid) AS terminated FROM pg_stat_activity
      WHERE application_name = 'roombook-listener' AND datname = current_database()`;
    expect(killed.map((row) => row.terminated)).toEqual(Array(WORKERS).fill(true));
    const killedPids = new Set(killed.map((row) => row.pid as number));
    await waitFor('new listeners', async () => {
      const pids = await listenerPids(sql);
      return pids.length === WORKERS && pids.every((pid) => !killedPids.has(pid));
    }, 5000);
    await waitFor('every worker to reload (3 more rooms)', () => everyWorkerCounts(server.port, before + 3), 5000);

    await sql`INSERT INTO rooms (name) VALUES ('HEARD-AGAIN')`;
    await waitFor('every worker to hear the new room', () => everyWorkerCounts(server.port, before + 4), 5000);
    expect(statuses(await bookAll(server.port, 'heard-again', days(1, 20)))).toEqual(Array(20).fill(201));
    expect(statuses(await bookAll(server.port, 'silent-2', days(1, 20)))).toEqual(Array(20).fill(201));
  });

  test('a reload also drops the names deleted while nobody was told (the cache is updated in place)', async () => {
    await sql`INSERT INTO rooms (name) VALUES ('SOON-GONE-1'), ('SOON-GONE-2'), ('STAYS')`;
    const before = await roomCount(sql);
    await waitFor('every worker to hear the three rooms', () => everyWorkerCounts(server.port, before), 5000);

    await deleteRoomsSilently(sql, ['SOON-GONE-1', 'SOON-GONE-2']);
    expect(await readyRoomCounts(server.port)).toEqual(Array(24).fill(before)); // nobody heard of it

    await sql`SELECT pg_notify('roombook_names', '{"op":"reload"}')`;
    await waitFor('every worker to reload (2 rooms fewer)', () => everyWorkerCounts(server.port, before - 2), 5000);
    expect(errorCodes(await bookAll(server.port, 'soon-gone-1', days(1, 3)))).toEqual(Array(3).fill('room_not_found'));
    expect(statuses(await bookAll(server.port, 'stays', days(1, 3)))).toEqual(Array(3).fill(201));
  });
});

describe('a listener whose connection goes silent', () => {
  const WORKERS = 2;
  let server: RunningServer;
  let database: Awaited<ReturnType<typeof createDatabase>>;
  let relay: SilencingRelay;
  let sql: postgres.Sql;

  beforeAll(async () => {
    database = await createDatabase();
    let relayed: string;
    ({ relay, url: relayed } = await relayTo(database.url));
    server = await startServer({
      databaseUrl: relayed, workers: WORKERS, env: { ADMIN_TOKEN, LISTENER_CHECK_MS: '300' },
    });
    sql = connect(database.url);
  });
  afterAll(async () => {
    await sql?.end();
    await server?.stop();
    await relay?.close();
    await database?.drop();
  });

  test('is found out by its ping, replaced, and the notification it missed is made up by a reload', async () => {
    await waitFor(`${WORKERS} listeners through the relay`, () => relay.live('roombook-listener') === WORKERS, 5000);
    const before = await roomCount(sql);
    await waitFor('every worker to agree on the rooms', () => everyWorkerCounts(server.port, before), 5000);

    expect(relay.silence('roombook-listener')).toBe(WORKERS);
    await sql`INSERT INTO rooms (name) VALUES ('UNHEARD')`; // notified, but the notification never arrives

    await waitFor('every worker to see the room it was not told about', () => everyWorkerCounts(server.port, before + 1), 8000);
    expect(relay.live('roombook-listener')).toBe(WORKERS); // new connections, not the silenced ones
    expect(server.logs()).toContain('listener missed its ping');
  });
});
