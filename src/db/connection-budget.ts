import type { Sql } from './sql';

/**
 * How many workers the database has connections for. Each worker holds up to DB_POOL_SIZE read
 * connections, BATCH_MAX_IN_FLIGHT booking connections and one LISTEN connection; a worker that
 * cannot get one of them answers 503 for as long as it runs (PostgreSQL's "too many clients"):
 * with one worker per core, a 32-core host needs 128 connections, and a stock server allows 97.
 * So the primary checks the budget once, before it forks: the room left under max_connections (less
 * the slots PostgreSQL reserves for superusers and for pg_use_reserved_connections), under the
 * role's and the database's CONNECTION LIMIT (which do not bind superusers), counting the
 * connections other clients hold at that moment. Connections that other roombook hosts open later
 * are not foreseen: several hosts on one database budget together (docs/scaling.md).
 */
export interface ConnectionSettings {
  workers: number;
  poolSize: number;
  batchMaxInFlight: number;
}

export function connectionsPerWorker(settings: Omit<ConnectionSettings, 'workers'>): number {
  return settings.poolSize + settings.batchMaxInFlight + 1;
}

/** A limit on connections, and how much of it is taken: a line of the budget. */
export interface ConnectionLimit {
  what: string; // how the limit reads in a message, e.g. "max_connections 100 less 3 reserved"
  free: number;
}

/**
 * What the server allows this role on this database, as one query sees it: other clients counted,
 * itself not. Backends are counted from pg_stat_database, which every role may read in full
 * (pg_stat_activity hides other roles' backend types from roles without pg_read_all_stats); an
 * autovacuum worker counted with them errs on the safe side.
 */
export async function readConnectionLimits(sql: Sql): Promise<ConnectionLimit[]> {
  const [row] = await sql`
    SELECT current_setting('max_connections')::int AS max_connections,
      current_setting('superuser_reserved_connections')::int
        + coalesce(current_setting('reserved_connections', true), '0')::int AS reserved, -- the latter: PostgreSQL 16+
      r.rolname AS role, r.rolsuper AS superuser, r.rolconnlimit AS role_limit, d.datconnlimit AS database_limit,
      (SELECT sum(numbackends) FROM pg_stat_database WHERE datid <> 0)::int - 1 AS clients,
      (SELECT numbackends FROM pg_stat_database WHERE datid = d.oid)::int - 1 AS database_clients,
      (SELECT count(*) FROM pg_stat_activity
        WHERE usesysid = r.oid AND backend_type = 'client backend' AND pid <> pg_backend_pid())::int AS role_clients
    FROM pg_roles r JOIN pg_database d ON d.datname = current_database()
    WHERE r.rolname = current_user`;
  const limits: ConnectionLimit[] = [{
    what: `max_connections ${row.max_connections} less ${row.reserved} reserved, ${row.clients} in use`,
    free: row.max_connections - row.reserved - row.clients,
  }];
  // CONNECTION LIMITs do not bind superusers.
  if (!row.superuser && row.role_limit >= 0) {
    limits.push({ what: `role ${row.role}'s CONNECTION LIMIT ${row.role_limit}, ${row.role_clients} in use`,
      free: row.role_limit - row.role_clients });
  }
  if (!row.superuser && row.database_limit >= 0) {
    limits.push({ what: `the database's CONNECTION LIMIT ${row.database_limit}, ${row.database_clients} in use`,
      free: row.database_limit - row.database_clients });
  }
  return limits;
}

export type WorkerFit =
  | { workers: number; lowered?: string } // lowered: why fewer workers than asked for (the default only)
  | { refused: string };

/**
 * The workers to start. A worker count the operator chose is kept or refused, never changed
 * behind their back; the default (one per core) is lowered to what fits, with the reason.
 */
export function fitWorkers(settings: ConnectionSettings, workersChosen: boolean, limits: ConnectionLimit[]): WorkerFit {
  const perWorker = connectionsPerWorker(settings);
  const tightest = limits.reduce((a, b) => (b.free < a.free ? b : a));
  const room = Math.max(0, tightest.free);
  const fits = Math.floor(room / perWorker);
  if (fits >= settings.workers) return { workers: settings.workers };
  const shortfall = `${settings.workers} workers × ${perWorker} connections (DB_POOL_SIZE ${settings.poolSize} + `
    + `BATCH_MAX_IN_FLIGHT ${settings.batchMaxInFlight} + 1 LISTEN) = ${settings.workers * perWorker}, `
    + `but the database has room for ${room} (${tightest.what}): `
    + `set WORKERS or DB_POOL_SIZE lower, or give the database more connections`;
  if (workersChosen || fits === 0) return { refused: `not enough database connections: ${shortfall}` };
  return { workers: fits, lowered: `starting ${fits} worker${fits === 1 ? '' : 's'}, not one per core: ${shortfall}` };
}

/**
 * The embedded PostgreSQL's max_connections when not asked otherwise. Declared here, not in
 * embedded.ts, so that the primary loads embedded.ts only when it starts one (src/primary.ts).
 */
export const DEFAULT_MAX_CONNECTIONS = 200;

/**
 * max_connections for the embedded PostgreSQL, which roombook starts and so can size: the workers'
 * budget and room for tools beside them (psql, a benchmark, a second host), never fewer than its default.
 */
export function embeddedMaxConnections(settings: ConnectionSettings): number {
  return Math.max(DEFAULT_MAX_CONNECTIONS, settings.workers * connectionsPerWorker(settings) + 50);
}
