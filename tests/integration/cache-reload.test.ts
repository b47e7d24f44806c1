import { createDatabase } from '../helpers/database';
import { createRenewablePool, createSql, type Sql } from '../../src/db/sql';
import { migrate } from '../../src/db/migrate';
import { NamedRepository } from '../../src/db/named';
import { reloadIndex } from '../../src/db/listen';
import { NameIndex } from '../../src/domain/existence';
import { startServer, type RunningServer } from '../helpers/server';
import { scrape, total } from '../helpers/metrics';
import { waitFor } from '../helpers/wait';
import { call, dayFromToday, onNewConnection, shortForm } from '../helpers/http';
import { seed } from '../../scripts/seed';

/**
 * A full cache reload reads the table through a cursor, a page at a time (src/db/listen.ts), on a
 * real database and with pages of 10 rows, so that 25 rooms take three pages.
 */
let database: Awaited<ReturnType<typeof createDatabase>>;
let sql: Sql;
let rooms: NamedRepository;
const ids = new Map<string, number>();

beforeAll(async () => {
  database = await createDatabase();
  sql = createSql(database.url, { max: 2, applicationName: 'roombook-reload-test' });
  await migrate(sql);
  for (let i = 1; i <= 25; i++) {
    const [{ id }] = await sql`INSERT INTO rooms (name) VALUES (${`PAGED${i}`}) RETURNING id`;
    ids.set(`PAGED${i}`, id);
  }
  rooms = new NamedRepository(sql, 'room');
});
afterAll(async () => {
  await sql?.end();
  await database?.drop();
});

/**
 * Holds an ACCESS EXCLUSIVE lock on rooms for `ms` (every read of it waits); resolves once it is
 * taken, with the promise of its release (wrapped: an async function would wait for it).
 */
async function lockRooms(ms: number): Promise<{ released: Promise<unknown> }> {
  let taken!: () => void;
  const lockTaken = new Promise<void>((resolve) => { taken = resolve; });
  const held = sql.begin(async (tx) => {
    await tx`LOCK TABLE rooms IN ACCESS EXCLUSIVE MODE`;
    taken();
    await new Promise((resolve) => setTimeout(resolve, ms));
  });
  await lockTaken;
  return { released: held };
}

/** Full cache reloads done by the server's workers, from its metrics. */
async function reloadCount(server: RunningServer): Promise<number> {
  return total(await scrape(server.metricsUrl), 'roombook_cache_reloads_total');
}

test('the table is read a page at a time, and a page that says stop ends the read', async () => {
  const pages: number[] = [];
  expect(await rooms.eachPage((rows) => (pages.push(rows.length), true), 10)).toBe(25);
  expect(pages).toEqual([10, 10, 5]);
  pages.length = 0;
  await rooms.eachPage((rows) => (pages.push(rows.length), false), 10);
  expect(pages).toEqual([10]);
});

test('a reload over several pages holds exactly the table: stale ids replaced, deleted names dropped', async () => {
  const index = new NameIndex();
  index.set('PAGED3', 999_999); // re-created since: the table has another id
  index.set('DELETED', 7); // deleted while no notification came
  let pages = 0; // each one moves the reload's deadline on
  expect(await reloadIndex(rooms, index, { abandoned: false }, () => pages++, 10)).toBe(25);
  expect(pages).toBe(6); // 3 pages, twice: the deleted name made it read the table again to find it
  expect(index.size).toBe(25);
  expect(index.idOf('PAGED3')).toBe(ids.get('PAGED3'));
  expect(index.idOf('PAGED25')).toBe(ids.get('PAGED25'));
  expect(index.idOf('DELETED')).toBeUndefined();
});

test('an abandoned reload (past its deadline) applies no page that arrives after, and starts no read', async () => {
  const index = new NameIndex();
  const run = { abandoned: false };
  let pages = 0;
  await reloadIndex(rooms, index, run, () => { pages++; run.abandoned = true; }, 10); // abandoned as its first page arrives
  expect({ pages, size: index.size }).toEqual({ pages: 1, size: 0 });
  await reloadIndex(rooms, index, run, () => pages++, 10); // the next table's read, after the deadline
  expect({ pages, size: index.size }).toEqual({ pages: 1, size: 0 });
});

test('a reload read is not cut off by the read pool\'s deadline for one query: it waits out a lock that outlasts it', async () => {
  const pool = createRenewablePool(() => createSql(database.url, { max: 2, applicationName: 'roombook-reload-test' }), 300, () => {});
  const reader = new NamedRepository(pool.sql, 'room', pool.current);
  try {
    const { released } = await lockRooms(1000);
    const bounded = pool.sql`SELECT count(*) FROM rooms`.then(() => 'answered', (error) => error.code);
    const started = performance.now();
    const count = await reader.eachPage(() => true, 10); // waits for the lock, then reads
    expect(count).toBe(25);
    expect(performance.now() - started).toBeGreaterThan(600);
    expect(await bounded).toBe('QUERY_DEADLINE'); // the same wait through pool.sql fails at 300 ms
    await released;
  } finally {
    await pool.close(0);
  }
});

test('through the real server: a reload that waits out a lock longer than QUERY_TIMEOUT_MS ends at the first try', async () => {
  const server = await startServer({ databaseUrl: database.url, workers: 1, env: { QUERY_TIMEOUT_MS: '1000' } });
  try {
    const reloads = () => reloadCount(server);
    const before = await reloads();
    const { released } = await lockRooms(2000);
    await sql`SELECT pg_notify('roombook_names', '{"op":"reload"}')`;
    await released;
    await waitFor('the worker to reload', async () => (await reloads()) >= before + 1, 5000);
    expect(await reloads()).toBe(before + 1);
    expect(server.logs()).not.toContain('existence cache reload failed');
  } finally {
    await server.stop();
  }
});

test('through the real server: /ready answers 200 all through the reload of a large cache (db:seed of 1,000,000 names)', async () => {
  // Before the reload read one table at a time, it held both read connections for its whole length
  // (seconds), and /ready's SELECT 1 queued behind it: 503 db_unavailable after 1 s, 4 of 5 probes.
  const WORKERS = 2;
  const server = await startServer({ databaseUrl: database.url, workers: WORKERS });
  try {
    const reloads = () => reloadCount(server);
    const before = await reloads();
    await seed(sql, 500_000, 500_000); // its NOTIFY at commit makes every worker reload
    // Probed on new connections, so that both workers are asked, until both have reloaded.
    const answers: { status: number; body: { error?: string; rooms?: number; users?: number } }[] = [];
    while ((await reloads()) < before + WORKERS) {
      answers.push(await onNewConnection('127.0.0.1', server.port, 'GET', '/ready'));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(answers.filter((answer) => answer.status !== 200)).toEqual([]);
    // The probes did meet reloads in progress: caches holding some of the names, not all.
    const names = (answer: (typeof answers)[number]) => (answer.body.rooms ?? 0) + (answer.body.users ?? 0);
    expect(answers.filter((answer) => names(answer) > 25 && names(answer) < 1_000_025).length).toBeGreaterThan(0);
  } finally {
    await server.stop();
  }
});

describe('with one read connection (DB_POOL_SIZE=1) and the listener checked every 300 ms', () => {
  const env = { DB_POOL_SIZE: '1', LISTENER_CHECK_MS: '300' };

  test('a reload that holds the connection for 2 s is not taken for a dead listener: one reload, no reconnect', async () => {
    // The check's ping queued behind the reload's read, missed its second, and the listener was
    // replaced: a new subscription, and a reload more.
    const server = await startServer({ databaseUrl: database.url, workers: 1, env });
    try {
      const reloads = () => reloadCount(server);
      const before = await reloads();
      const { released } = await lockRooms(2000);
      await sql`SELECT pg_notify('roombook_names', '{"op":"reload"}')`;
      await released;
      await waitFor('the worker to reload', async () => (await reloads()) >= before + 1, 5000);
      await new Promise((resolve) => setTimeout(resolve, 1000)); // time for a second reload, if one were coming
      expect(await reloads()).toBe(before + 1);
      expect(server.logs()).not.toContain('listener missed its ping');
    } finally {
      await server.stop();
    }
  });

  test('a ping that waits 2 s for the connection (a lookup held by a lock) is not taken for a dead listener', async () => {
    const server = await startServer({ databaseUrl: database.url, workers: 1, env });
    try {
      const reloads = () => reloadCount(server);
      const before = await reloads();
      const { released } = await lockRooms(2000);
      // An unknown room is looked up in the table, which waits for the lock on the only read connection.
      const answer = call(server.url, 'POST', '/book', { room_name: 'NOT-A-ROOM', user_name: 'nobody', date: shortForm(dayFromToday(3)) });
      await released;
      expect((await answer).body.error).toBe('room_not_found');
      await new Promise((resolve) => setTimeout(resolve, 1000)); // a check or two more
      expect(server.logs()).not.toContain('listener missed its ping');
      expect(await reloads()).toBe(before);
    } finally {
      await server.stop();
    }
  });
});

test('a notification not understood is ignored: a forged change neither enters the cache nor fails a booking', async () => {
  // Anyone who can connect may NOTIFY the channel; an id "x" taken on trust reached the booking
  // statement's int[] and failed the batch with a 500.
  const server = await startServer({ databaseUrl: database.url, workers: 1 });
  try {
    await sql`INSERT INTO users (name) VALUES ('forge-test')`;
    for (const payload of ['{"kind":"room","op":"insert","id":"x","name":"FORGED"}', 'null', '{"op":"insert"}', 'not json']) {
      await sql`SELECT pg_notify('roombook_names', ${payload})`;
    }
    await sql`INSERT INTO rooms (name) VALUES ('AFTER-FORGED')`; // heard after the forged ones (one connection, in order)
    const ready = async () => (await call(server.url, 'GET', '/ready')).body.rooms;
    const [{ count }] = await sql`SELECT count(*)::int AS count FROM rooms`;
    await waitFor('the worker to hear the room inserted after', async () => (await ready()) >= count, 5000);
    expect(await ready()).toBe(count); // and no room more

    const date = shortForm(dayFromToday(5));
    const forged = await call(server.url, 'POST', '/book', { room_name: 'FORGED', user_name: 'forge-test', date });
    expect({ status: forged.status, error: forged.body.error }).toEqual({ status: 409, error: 'room_not_found' }); // the original's status for an unknown room
    const real = await call(server.url, 'POST', '/book', { room_name: 'AFTER-FORGED', user_name: 'forge-test', date });
    expect(real.status).toBe(201);
    expect(server.logs().split('notification not understood').length - 1).toBe(4);
  } finally {
    await server.stop();
  }
});
