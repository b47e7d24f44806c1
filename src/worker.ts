import uWS from 'uWebSockets.js';
import type { Config } from './config';
import { connectAll, createRenewablePool, createSql } from './db/sql';
import { NamedRepository } from './db/named';
import { BookingBatcher } from './db/bookings';
import { BookingRecords } from './db/booking-records';
import { NameListener } from './db/listen';
import { ExistenceCache } from './domain/existence';
import { BookingService } from './domain/booking';
import { SharedMisses } from './domain/shared-misses';
import { createTodayClock } from './domain/dates';
import { createApp, type RouteTable } from './http/app';
import { draining, inFlight } from './http/route';
import { bookingRoutes } from './http/bookings';
import { namedRoutes } from './http/named';
import { healthRoutes } from './http/health';
import { Access } from './domain/access';
import { cancelSecret } from './db/settings';
import { log } from './log';
import { WorkerMetrics } from './metrics/worker';
import { apiDocRoutes } from './http/openapi';
import { version } from './version';

export interface Worker {
  port: number;
  stop(): Promise<void>;
}

/** One worker: config -> sql -> cache -> listener -> http app, listening on HOST:PORT. */
export async function startWorker(config: Config, databaseUrl: string): Promise<Worker> {
  const metrics = new WorkerMetrics(); // first, before any await: the primary may ask for metrics at once
  // Reads and admin calls, each query with a deadline (src/db/sql.ts).
  const readPool = createRenewablePool(() => createSql(databaseUrl, {
    max: config.poolSize, applicationName: 'roombook', idleInTransactionTimeoutMs: config.queryTimeoutMs }),
    config.queryTimeoutMs, (why) => log.warn(`${why}: read connections renewed`));
  const sql = readPool.sql;
  const cache = new ExistenceCache();
  const rooms = new NamedRepository(sql, 'room', readPool.current);
  const users = new NamedRepository(sql, 'user', readPool.current);
  const listener = new NameListener(databaseUrl, sql, cache, { room: rooms, user: users }, config.listenerCheckMs,
    () => readPool.renew('the listener\'s check or reload failed'));
  const batcher = new BookingBatcher(() => createSql(databaseUrl, {
    max: config.batchMaxInFlight, applicationName: 'roombook-bookings', genericPlans: true,
    statementTimeoutMs: config.bookingStatementTimeoutMs,
  }), {
    maxSize: config.batchMaxSize, maxInFlight: config.batchMaxInFlight,
    statementTimeoutMs: config.bookingStatementTimeoutMs, gatherMs: config.batchGatherMs, observer: metrics.batches,
  });
  const today = createTodayClock(config.bookingTimeZone);
  const missLookups = { room: new SharedMisses(rooms), user: new SharedMisses(users) };
  const bookingService = new BookingService(cache, missLookups, batcher, today);
  let stopping = false;
  metrics.watch({ cache, missLookups, batcher, listener, requestsInFlight: inFlight, poolSize: config.poolSize + config.batchMaxInFlight });

  await listener.start();
  // Every database connection opens before the worker listens, while file descriptors are free.
  await Promise.all([connectAll(sql, config.poolSize), batcher.connect()]);
  const access = new Access(config.adminToken, await cancelSecret(sql, config.cancelTokenSecret));

  const booking = bookingRoutes(bookingService, new BookingRecords(sql), rooms, access, today);
  const room = namedRoutes(rooms, access, today);
  const user = namedRoutes(users, access, today);
  const health = healthRoutes(sql, cache, () => stopping);
  const docs = apiDocRoutes({ version, adminRequired: access.adminRequired });
  const body = { body: true };
  const id = { params: 1 };
  // Calls that change rooms and users: Access.requireAdmin reads their Origin.
  const adminBody = { body: true, admin: true };
  const adminId = { params: 1, admin: true };
  const adminIdAndBody = { params: 1, body: true, admin: true };
  const table: RouteTable = [
    ['post', '/book', booking.book, body],
    ['post', '/bookings', booking.create, body],
    ['get', '/bookings', booking.list],
    ['get', '/bookings/:id', booking.get, id],
    ['del', '/bookings/:id', booking.cancel, id],
    ['get', '/rooms/:id/availability', booking.availability, id],
    ['post', '/rooms', room.create, adminBody],
    ['get', '/rooms', room.list],
    ['get', '/rooms/:id', room.get, id],
    ['patch', '/rooms/:id', room.rename, adminIdAndBody],
    ['del', '/rooms/:id', room.remove, adminId],
    ['post', '/users', user.create, adminBody],
    ['get', '/users', user.list],
    ['get', '/users/:id', user.get, id],
    ['patch', '/users/:id', user.rename, adminIdAndBody],
    ['del', '/users/:id', user.remove, adminId],
    ['get', '/health', health.health],
    ['get', '/ready', health.ready],
    ['get', '/openapi.json', docs.openapi],
    ['get', '/docs', docs.page],
  ];
  docs.publish(table); // the OpenAPI document, built once from this very table
  const app = createApp(table, config.maxBodyBytes, metrics.http);

  const listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
    app.listen(config.host, config.port, (socket) => (socket ? resolve(socket) : reject(new Error(`cannot listen on ${config.host}:${config.port}`))));
  });

  // One stop, however many ask: a terminal's Ctrl-C signals the whole process group, so the
  // primary's stop message and the worker's own SIGINT both come, and each caller exits when stop()
  // resolves. Returning at once to the second would let it exit mid-drain, dropping the requests
  // in flight.
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopped ??= drainAndClose());

  async function drainAndClose(): Promise<void> {
    stopping = true;
    draining.active = true;
    uWS.us_listen_socket_close(listenSocket);
    const deadline = Date.now() + config.shutdownTimeoutMs;
    while (inFlight.count > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    await Promise.race([batcher.drained(), new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())))]);
    if (inFlight.count > 0) log.warn('stopping with requests still in flight', { requests: inFlight.count });
    // Connections first, then the database: nothing may reach a closed pool and read as db_unavailable.
    (app as unknown as { close(): void }).close(); // closes keep-alive connections too (uWS ≥ 20.26; not in its typings)
    await listener.stop();
    await Promise.all([readPool.close(2), batcher.close()]);
  }

  return { port: uWS.us_socket_local_port(listenSocket), stop };
}
