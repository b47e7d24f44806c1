import { connectionsPerWorker, embeddedMaxConnections, fitWorkers, type ConnectionLimit } from '../../src/db/connection-budget';

/** The arithmetic of the budget; tests/integration/connection-budget.test.ts runs it against a real server. */
const defaults = { poolSize: 2, batchMaxInFlight: 1 };
const server = (free: number): ConnectionLimit => ({ what: `max_connections 100 less 3 reserved, ${97 - free} in use`, free });
const role = (free: number): ConnectionLimit => ({ what: `role app's CONNECTION LIMIT 20, ${20 - free} in use`, free });

test('a worker holds its read pool, its booking connections and one LISTEN connection', () => {
  expect(connectionsPerWorker(defaults)).toBe(4);
  expect(connectionsPerWorker({ poolSize: 5, batchMaxInFlight: 2 })).toBe(8);
});

test('workers that fit are started as asked, to the last connection', () => {
  expect(fitWorkers({ ...defaults, workers: 8 }, false, [server(97)])).toEqual({ workers: 8 });
  expect(fitWorkers({ ...defaults, workers: 8 }, true, [server(32)])).toEqual({ workers: 8 });
});

test('the default (one per core) is lowered to what the tightest limit has room for, and says why', () => {
  const fit = fitWorkers({ ...defaults, workers: 64 }, false, [server(97), role(18)]);
  expect(fit).toEqual({ workers: 4, lowered: expect.stringContaining('starting 4 workers, not one per core') });
  const { lowered } = fit as { lowered: string };
  expect(lowered).toContain('64 workers × 4 connections (DB_POOL_SIZE 2 + BATCH_MAX_IN_FLIGHT 1 + 1 LISTEN) = 256');
  expect(lowered).toContain('room for 18 (role app\'s CONNECTION LIMIT 20, 2 in use)');
  expect(fitWorkers({ ...defaults, workers: 2 }, false, [server(7)])).toMatchObject({ workers: 1, lowered: expect.stringContaining('starting 1 worker,') });
});

test('a worker count the operator chose is refused rather than changed, naming what to change', () => {
  const fit = fitWorkers({ poolSize: 10, batchMaxInFlight: 2, workers: 8 }, true, [server(97)]);
  expect(fit).toEqual({ refused: expect.stringMatching(/^not enough database connections: 8 workers × 13 connections .* = 104, but the database has room for 97 \(max_connections 100 less 3 reserved, 0 in use\): set WORKERS or DB_POOL_SIZE lower/) });
});

test('no room even for one worker: refused, also for the default', () => {
  expect(fitWorkers({ ...defaults, workers: 2 }, false, [server(3)])).toEqual({ refused: expect.stringContaining('room for 3') });
  // More clients than the limit (other clients over-subscribed it): no room, not a negative room.
  expect(fitWorkers({ ...defaults, workers: 1 }, false, [server(-5)])).toEqual({ refused: expect.stringContaining('room for 0') });
});

test('the embedded PostgreSQL gets the workers\' budget and room for tools beside them, 200 at the least', () => {
  expect(embeddedMaxConnections({ ...defaults, workers: 2 })).toBe(200);
  expect(embeddedMaxConnections({ ...defaults, workers: 64 })).toBe(64 * 4 + 50);
  expect(embeddedMaxConnections({ poolSize: 10, batchMaxInFlight: 2, workers: 32 })).toBe(32 * 13 + 50);
});
