import fs from 'node:fs';
import net from 'node:net';
import { createDatabase } from '../helpers/database';
import { startServer, type RunningServer } from '../helpers/server';
import { call, client, dayFromToday } from '../helpers/http';
import { scrape as scrapeMetrics, total } from '../helpers/metrics';

/**
 * Prometheus metrics: served by the primary on METRICS_PORT, counting the requests of every
 * worker. Stories: N requests under load raise the request counter by exactly N; a worker that
 * dies is counted as restarted.
 */
const WORKERS = 2;
let server: RunningServer;
let database: Awaited<ReturnType<typeof createDatabase>>;

const scrape = () => scrapeMetrics(server.metricsUrl);

/** Runs the tasks with at most `concurrency` at once. */
async function pool(tasks: (() => Promise<unknown>)[], concurrency: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < tasks.length) await tasks[next++]();
  }));
}

beforeAll(async () => {
  database = await createDatabase();
  server = await startServer({ databaseUrl: database.url, workers: WORKERS });
});
afterAll(async () => {
  await server?.stop();
  await database?.drop();
});

test('the primary serves metrics on its own port, never on the API port', async () => {
  expect(server.metricsPort).toBeGreaterThan(0);
  expect(server.metricsPort).not.toBe(server.port);
  const metrics = await fetch(server.metricsUrl);
  expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  expect((await client(server.url).get('/metrics')).status).toBe(404);
  const samples = await scrape();
  expect(total(samples, 'roombook_worker_up')).toBe(WORKERS); // every worker answered this scrape
  expect(total(samples, 'roombook_workers_ready')).toBe(WORKERS);
  expect(total(samples, 'roombook_db_pool_connections_max')).toBe(WORKERS * (2 + 1)); // DB_POOL_SIZE + BATCH_MAX_IN_FLIGHT, defaults
});

test('the metrics port answers methods and paths as the API port does: HEAD like GET without the body, '
  + 'another method 405 with Allow, another path 404, in the catalogue\'s JSON', async () => {
  const get = await fetch(server.metricsUrl);
  const text = Buffer.from(await get.arrayBuffer());
  expect(get.headers.get('content-length')).toBe(String(text.length));
  const head = await fetch(server.metricsUrl, { method: 'HEAD' });
  expect(head.status).toBe(200);
  expect(head.headers.get('content-type')).toBe(get.headers.get('content-type'));
  // A scrape's text changes from one scrape to the next (durations, memory), and its length with it.
  expect(Number(head.headers.get('content-length'))).toBeGreaterThan(1000);
  expect((await head.arrayBuffer()).byteLength).toBe(0);
  // The same keep-alive connection reads the next answer whole: no body followed the HEAD's.
  expect((await fetch(server.metricsUrl)).status).toBe(200);

  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    const answer = await call(server.metricsUrl, method, '', method === 'POST' ? {} : undefined);
    expect({ method, status: answer.status, allow: answer.headers.get('allow'), body: answer.body }).toEqual({
      method, status: 405, allow: 'GET, HEAD', body: { error: 'method_not_allowed', message: 'Use GET or HEAD on this path.' } });
    expect(answer.headers.get('content-type')).toBe('application/json');
  }
  const base = server.metricsUrl.replace('/metrics', '');
  for (const [method, path] of [['GET', '/other'], ['GET', '/'], ['GET', '/metrics/x'], ['POST', '/other']]) {
    const answer = await call(base, method, path);
    expect({ method, path, status: answer.status, body: answer.body }).toEqual({
      method, path, status: 404, body: { error: 'not_found', message: 'Nothing is found at this address.' } });
  }
  const headOther = await fetch(`${base}/other`, { method: 'HEAD' });
  expect(headOther.status).toBe(404);
  expect((await headOther.arrayBuffer()).byteLength).toBe(0);
  // A query string is not part of the path.
  expect((await fetch(`${server.metricsUrl}?name[]=roombook_workers_ready`)).status).toBe(200);
});

test('under load, the workers\' counts add up to the requests sent', async () => {
  const api = client(server.url);
  const rooms = ['MROOM1', 'MROOM2', 'MROOM3', 'MROOM4'];
  for (const name of rooms) expect((await api.post('/rooms', { name })).status).toBe(201);
  expect((await api.post('/users', { name: 'meter' })).status).toBe(201);
  const bookings = rooms.flatMap((room) => Array.from({ length: 50 }, (_, i) => ({ room_name: room, user_name: 'meter', date: dayFromToday(i + 1) })));
  const healthChecks = 400;
  const before = await scrape();

  let loading = true;
  const scrapesDuringLoad = (async () => {
    let scrapes = 0;
    let last = total(before, 'roombook_http_requests_total');
    while (loading) {
      const now = total(await scrape(), 'roombook_http_requests_total');
      expect(now).toBeGreaterThanOrEqual(last); // no worker's answer is ever missing from a sum
      last = now;
      scrapes++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return scrapes;
  })();
  const tasks = [
    ...bookings.map((body) => async () => expect((await api.post('/book', body)).status).toBe(201)),
    ...Array.from({ length: healthChecks }, () => async () => expect((await api.get('/health')).status).toBe(200)),
  ].sort(() => Math.random() - 0.5);
  await pool(tasks, 32);
  loading = false;
  expect(await scrapesDuringLoad).toBeGreaterThan(0);

  const after = await scrape();
  const delta = (name: string, where: Record<string, string> = {}) => total(after, name, where) - total(before, name, where);
  expect(delta('roombook_http_requests_total')).toBe(bookings.length + healthChecks);
  expect(delta('roombook_http_requests_total', { route: '/health', method: 'GET', status: '200' })).toBe(healthChecks);
  expect(delta('roombook_http_requests_total', { route: '/book', method: 'POST', status: '201' })).toBe(bookings.length);
  expect(delta('roombook_http_request_duration_seconds_count', { route: '/book' })).toBe(bookings.length);
  expect(delta('roombook_http_request_duration_seconds_bucket', { route: '/health', le: '+Inf' })).toBe(healthChecks);
  // Every booking here is for its own (room, day): each is one row of some batch.
  expect(delta('roombook_booking_batch_size_sum')).toBe(bookings.length);
  expect(delta('roombook_booking_batch_size_count')).toBeGreaterThan(0);
  expect(delta('roombook_booking_batch_wait_seconds_count')).toBe(delta('roombook_booking_batch_size_count'));
  expect(delta('roombook_cache_lookups_total', { kind: 'room' })).toBe(bookings.length);
  expect(total(after, 'roombook_cache_entries', { kind: 'room' })).toBe(rooms.length);
  expect(total(after, 'roombook_http_requests_in_flight')).toBe(0);
});

/**
 * One POST per connection, the connections opened first and the requests then written in one go,
 * so that each worker reads many of them in one event-loop turn. Resolves with the response bodies.
 */
async function postTogether(port: number, path: string, bodies: unknown[]): Promise<any[]> {
  const sockets = await Promise.all(bodies.map(() => new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  })));
  const answers = sockets.map((socket) => new Promise<any>((resolve, reject) => {
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      const [head, body = ''] = text.split('\r\n\r\n');
      const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? NaN);
      if (body.length >= length) {
        socket.destroy();
        resolve({ status: Number(head.split(' ')[1]), ...JSON.parse(body) });
      }
    });
    socket.once('error', reject);
  }));
  sockets.forEach((socket, i) => {
    const payload = JSON.stringify(bodies[i]);
    socket.write(`POST ${path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`);
  });
  return Promise.all(answers);
}

test('bookings naming the same unknown room at once share database lookups', async () => {
  const requests = 60;
  await client(server.url).post('/users', { name: 'misser' });
  const before = await scrape();
  const answers = await postTogether(server.port, '/book', Array.from({ length: requests },
    () => ({ room_name: 'NOSUCHROOM', user_name: 'misser', date: dayFromToday(3) })));
  expect(answers.map((answer) => `${answer.status} ${answer.error}`)).toEqual(Array(requests).fill('409 room_not_found'));

  const after = await scrape();
  const delta = (name: string) => total(after, name, { kind: 'room' }) - total(before, name, { kind: 'room' });
  expect(delta('roombook_cache_misses_total')).toBe(requests);
  // Each worker asks at least once; one query per request would be `requests`.
  expect(delta('roombook_cache_miss_queries_total')).toBeGreaterThanOrEqual(1);
  expect(delta('roombook_cache_miss_queries_total')).toBeLessThan(requests / 2);
});

/** The worker processes of the primary, from /proc (field 4 of stat is the parent's pid). */
function workerPids(primaryPid: number): number[] {
  return fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).filter((pid) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === primaryPid;
    } catch {
      return false; // exited meanwhile
    }
  }).map(Number);
}

// METRICS_PORT answers anyone who reaches HOST: a scrape costs each worker about 5 ms of CPU, so
// scrapes sent together must not each cost that (200 at once took 2 s of the workers' CPU).
test('scrapes that arrive together share collections: 200 at once cost the workers less than 20 one after another', async () => {
  const cpu = async () => total(await scrape(), 'process_cpu_seconds_total'); // summed over the workers
  let before = await cpu();
  for (let i = 0; i < 20; i++) await scrape();
  const serial = (await cpu()) - before;
  before = await cpu();
  const texts = await Promise.all(Array.from({ length: 200 }, async () => (await fetch(server.metricsUrl)).text()));
  const together = (await cpu()) - before;
  expect(texts.every((text) => text.includes('roombook_worker_up'))).toBe(true);
  expect({ together, serial, less: together < serial }).toEqual({ together, serial, less: true });
});

test('a worker that dies is replaced and counted, and scrapes go on meanwhile', async () => {
  const workers = workerPids(server.process.pid!);
  expect(workers).toHaveLength(WORKERS);
  const restartsBefore = total(await scrape(), 'roombook_worker_restarts_total');
  process.kill(workers[0], 'SIGKILL');
  const deadline = Date.now() + 15_000;
  let samples = await scrape();
  while (Date.now() < deadline && !(total(samples, 'roombook_worker_restarts_total') === restartsBefore + 1
    && total(samples, 'roombook_workers_ready') === WORKERS && total(samples, 'roombook_worker_up') === WORKERS)) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    samples = await scrape();
  }
  expect(total(samples, 'roombook_worker_restarts_total')).toBe(restartsBefore + 1);
  expect(total(samples, 'roombook_workers_ready')).toBe(WORKERS);
  expect(total(samples, 'roombook_worker_up')).toBe(WORKERS);
});
