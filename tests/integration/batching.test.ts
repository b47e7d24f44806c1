import { createDatabase } from '../helpers/database';
import { startServer, type RunningServer } from '../helpers/server';
import { client, dayFromToday } from '../helpers/http';
import { startLoad } from '../helpers/load';
import { scrape, total } from '../helpers/metrics';

/**
 * How bookings are gathered into statements (src/db/gathering.ts), on a 1-worker roombook with
 * BATCH_GATHER_MS far above any answer time here, so that a wait shows in a client's latency:
 * - clients on keep-alive connections are decided together, nearly all of them in each statement
 *   (without the wait they split into two halves that take turns);
 * - a lone client never waits;
 * - clients that do not come back cost a wait now and then, not at every statement.
 */
jest.setTimeout(30_000);

const GATHER_MS = 300;
const WAITED_MS = 250; // an answer this slow waited for the gather (the others take a few ms)

let database: Awaited<ReturnType<typeof createDatabase>>;
let server: RunningServer;
let api: ReturnType<typeof client>;
const rooms = Array.from({ length: 16 }, (_, i) => `GATHER${i}`);
let nextDay = 1;

beforeAll(async () => {
  database = await createDatabase();
  server = await startServer({ databaseUrl: database.url, workers: 1, env: { BATCH_GATHER_MS: String(GATHER_MS) } });
  api = client(server.url);
  for (const name of rooms) expect((await api.post('/rooms', { name })).status).toBe(201);
  expect((await api.post('/users', { name: 'gatherer' })).status).toBe(201);
});
afterAll(async () => {
  await server?.stop();
  await database?.drop();
});

/** Books a slot of its own; resolves with the answer's status and how long it took. */
async function timedBooking(room: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const { status } = await api.post('/book', { room_name: room, user_name: 'gatherer', date: dayFromToday(nextDay++) });
  return { status, ms: performance.now() - started };
}

test('16 clients on keep-alive connections are decided together: each statement carries nearly all of them', async () => {
  const before = await scrape(server.metricsUrl);
  const load = startLoad({ url: server.url, rooms, users: ['gatherer'], concurrency: 16, durationMs: 1500, firstDayOffset: 1000 });
  const records = await load.done;
  const after = await scrape(server.metricsUrl);
  expect(load.counts().byStatus).toEqual({ 201: records.length });
  const delta = (name: string) => total(after, name) - total(before, name);
  expect(delta('roombook_booking_batch_size_sum')).toBe(records.length);
  const meanBatch = records.length / delta('roombook_booking_batch_size_count');
  process.stdout.write(`[batching] ${records.length} bookings by 16 clients, ${meanBatch.toFixed(1)} per statement\n`);
  expect(meanBatch).toBeGreaterThanOrEqual(12); // 5.7 in a run without the wait (BATCH_GATHER_MS=0)
  expect(total(after, 'roombook_booking_gather_waits_total', { outcome: 'met' })
    - total(before, 'roombook_booking_gather_waits_total', { outcome: 'met' })).toBeGreaterThan(10);
});

test('a lone client never waits for others', async () => {
  // Its first booking may wait for the clients of the test before, which are not coming back.
  expect((await timedBooking(rooms[0])).status).toBe(201);
  const answers = [];
  for (let i = 0; i < 20; i++) answers.push(await timedBooking(rooms[0]));
  expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(201));
  expect(answers.filter((answer) => answer.ms >= WAITED_MS)).toEqual([]);
});

test('clients that do not come back cost a wait now and then, not at every statement', async () => {
  // Bursts of 4 clients at once, then 1: after each 4, four are expected and one comes.
  const ranOut = async () => total(await scrape(server.metricsUrl), 'roombook_booking_gather_waits_total', { outcome: 'ran_out' });
  const ranOutBefore = await ranOut();
  const bursts: { status: number; ms: number }[][] = [];
  for (let i = 0; i < 20; i++) {
    const size = i % 2 === 0 ? 4 : 1;
    bursts.push(await Promise.all(rooms.slice(0, size).map((room) => timedBooking(room))));
  }
  expect(bursts.flat().every((answer) => answer.status === 201)).toBe(true);
  const waited = bursts.filter((burst) => burst.some((answer) => answer.ms >= WAITED_MS)).length;
  process.stdout.write(`[batching] ${waited} of 20 bursts waited for clients that did not come\n`);
  expect(waited).toBeGreaterThanOrEqual(1); // the wait does happen (the test can see it)
  expect(await ranOut() - ranOutBefore).toBeGreaterThanOrEqual(waited); // the metrics count every wait that ran out
  expect(waited).toBeLessThanOrEqual(7); // 4-5 seen (18 when every wait that runs out is followed by another)
});
