import { sharedMaxConnections, workerCounts } from '../../bench/lib/shared-cluster';

/** bench:scaling on a large host: which worker counts run at once, and the connections they share. */
test('every worker count up to 8, then doubling, and always the largest', () => {
  expect(workerCounts(1)).toEqual([1]);
  expect(workerCounts(2)).toEqual([1, 2]);
  expect(workerCounts(8)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  expect(workerCounts(12)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 12]);
  expect(workerCounts(64)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 16, 32, 64]);
  expect(workerCounts(96)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 16, 32, 64, 96]);
});

test('the shared embedded PostgreSQL has room for every roombook\'s workers, with their pool settings', () => {
  // 64 cores: 36 + 16 + 32 + 64 = 148 workers, 4 connections each with the defaults, + 50.
  expect(sharedMaxConnections(148, {})).toBe(148 * 4 + 50);
  expect(sharedMaxConnections(10, { DB_POOL_SIZE: '5', BATCH_MAX_IN_FLIGHT: '2' })).toBe(200); // 80 + 50, at least 200
  expect(sharedMaxConnections(100, { DB_POOL_SIZE: '5', BATCH_MAX_IN_FLIGHT: '2' })).toBe(100 * 8 + 50);
});
