/**
 * More client connections than the worker has file descriptors: the kernel keeps the ones it
 * cannot accept waiting until others close. The worker's database connections must not be among
 * the casualties: opened on demand, the booking connection found no descriptor left (EMFILE) and
 * every booking of the first wave failed (500 then; 503 since EMFILE counts as the database out
 * of reach). They are opened before the worker listens.
 */
import net from 'node:net';
import type postgres from 'postgres';
import { connect, createDatabase } from '../helpers/database';
import { startServer, type RunningServer } from '../helpers/server';
import { client, dayFromToday } from '../helpers/http';

const OPEN_FILES = 120; // a worker uses about 30 of them itself
const CLIENTS = 250;

let server: RunningServer;
let database: Awaited<ReturnType<typeof createDatabase>>;
let sql: postgres.Sql;

beforeAll(async () => {
  database = await createDatabase();
  server = await startServer({ databaseUrl: database.url, workers: 1, openFiles: OPEN_FILES });
  sql = connect(database.url);
});
afterAll(async () => {
  await sql?.end();
  await server?.stop();
  await database?.drop();
});

/** One booking on a connection of its own, closed after the answer; resolves with the status line. */
function bookAlone(port: number, body: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString()));
    socket.on('error', () => {});
    socket.on('close', () => resolve(received.split('\r\n')[0]));
    socket.write(`POST /book HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nConnection: close\r\n`
      + `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    socket.setTimeout(20_000, () => socket.destroy());
  });
}

test('before its first request, a worker holds every database connection it will use', async () => {
  const held = await sql`SELECT application_name AS name, count(*)::int AS count FROM pg_stat_activity
    WHERE datname = ${database.name} AND application_name LIKE 'roombook%' GROUP BY 1 ORDER BY 1`;
  // DB_POOL_SIZE (2) read connections, BATCH_MAX_IN_FLIGHT (1) booking connection, the listener.
  expect(held).toEqual([{ name: 'roombook', count: 2 }, { name: 'roombook-bookings', count: 1 }, { name: 'roombook-listener', count: 1 }]);
});

test(`${CLIENTS} connections at once on a worker limited to ${OPEN_FILES} open files: every booking is made`, async () => {
  const api = client(server.url);
  expect((await api.post('/rooms', { name: 'fdroom' })).status).toBe(201);
  expect((await api.post('/users', { name: 'fd-user' })).status).toBe(201);
  const statuses = await Promise.all(Array.from({ length: CLIENTS }, (_, i) =>
    bookAlone(server.port, JSON.stringify({ room_name: 'FDROOM', user_name: 'fd-user', date: dayFromToday(i + 1) }))));
  const counts: Record<string, number> = {};
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
  expect(counts).toEqual({ 'HTTP/1.1 201 Created': CLIENTS });
  expect((await sql`SELECT count(*)::int AS n FROM bookings`)[0].n).toBe(CLIENTS);
  expect(server.logs()).not.toContain('request failed');
}, 60_000);
