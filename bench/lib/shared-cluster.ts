import { settings } from '../../src/config';
import { embeddedMaxConnections } from '../../src/db/connection-budget';

/**
 * The worker counts bench:scaling measures: every count up to 8, then doubling up to the largest
 * (always measured). All counts run at once on one database, so measuring every count on a
 * 64-core host would start 64·65/2 = 2,080 workers and hold 4 connections each.
 */
export function workerCounts(largest: number): number[] {
  const counts: number[] = [];
  for (let workers = 1; workers <= largest; workers = workers < 8 ? workers + 1 : workers * 2) counts.push(workers);
  if (counts[counts.length - 1] !== largest) counts.push(largest);
  return counts;
}

/**
 * EMBEDDED_PG_MAX_CONNECTIONS for the roombook that starts the embedded PostgreSQL which
 * `totalWorkers` workers of several roombooks will share: each roombook sizes it for its own
 * workers only. DB_POOL_SIZE and BATCH_MAX_IN_FLIGHT come from the environment, as the roombooks'.
 */
export function sharedMaxConnections(totalWorkers: number, env: NodeJS.ProcessEnv = process.env): number {
  const chosen = (variable: string, fallback: string) => Number(env[variable] || fallback);
  return embeddedMaxConnections({
    workers: totalWorkers,
    poolSize: chosen('DB_POOL_SIZE', settings.poolSize.fallback),
    batchMaxInFlight: chosen('BATCH_MAX_IN_FLIGHT', settings.batchMaxInFlight.fallback),
  });
}
