import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDefaultWorkers, settings } from '../../src/config';
import { seed } from '../../scripts/seed'; // npm run db:seed's: the rooms and users the workloads name
import { type BenchDatabase, type Sql, recycleWal } from './database';
import { allStats, readStat } from './proc';
import { getJson, startServer, type RunningServer } from './servers';

/**
 * Roombook under test: `node dist/src/main.js` on a free port of 127.0.0.1, on the bench database,
 * with the rooms and users the workloads name seeded in bulk and loaded in every worker's cache.
 */
export interface Roombook {
  server: RunningServer;
  sql: Sql; // the bench's own connection to roombook's database: seeding and checks
  workers: number;
  wal: string; // how the database's WAL was prepared (recycleWal), for the report
}

/** The settings worth printing beside a figure: what the environment set, or the default. */
export const TUNING = ['WORKERS', 'DB_POOL_SIZE', 'BATCH_MAX_SIZE', 'BATCH_MAX_IN_FLIGHT', 'BATCH_GATHER_MS', 'BOOKING_TZ'] as const;

export function tuning(overrides: Record<string, string> = {}): Record<string, string> {
  const chosen: Record<string, string> = {};
  for (const env of TUNING) {
    const setting = Object.values(settings).find((s) => s.env === env)!;
    const value = overrides[env] ?? process.env[env];
    chosen[env] = value !== undefined && value !== '' ? value : `${setting.fallback} (default)`;
  }
  return chosen;
}

/**
 * WORKERS as a roombook ran, for the report: left to its default, it may have been lowered to the
 * database's connections (src/db/connection-budget.ts); one that was set ran as set.
 */
export function workersAsRun(actual: number): Record<string, string> {
  if (!isDefaultWorkers()) return {};
  const fallback = Number(settings.workers.fallback);
  return { WORKERS: actual === fallback ? `${actual} (default)` : `${actual} (default ${fallback}, lowered to the database's connections)` };
}

/** Databases whose WAL was prepared already (several roombooks may share one). */
const walPrepared = new Map<string, string>();

export async function startRoombook(repoRoot: string, database: BenchDatabase, seedCounts: { rooms: number; users: number },
  env: Record<string, string> = {}, nodeArgs: string[] = [], walMegabytes = 512): Promise<Roombook> {
  const server = await startServer('roombook', path.join(repoRoot, 'dist', 'src', 'main.js'), {
    ...database.serverEnv, ...env,
    HOST: '127.0.0.1', PORT: '0', METRICS_PORT: '0', // never a fixed port: another roombook may run here
    LOG_LEVEL: 'info', // the "listening" line is at info; debug would log every request
  }, 'roombook listening', nodeArgs);
  let sql: Sql | undefined;
  try {
    sql = await database.connect(String(server.ready.database));
    await seed(sql, seedCounts.rooms, seedCounts.users);
    await waitForCaches(server, seedCounts);
    const key = `${database.description} ${String(server.ready.database)}`;
    if (!walPrepared.has(key)) walPrepared.set(key, await recycleWal(sql, walMegabytes));
    return { server, sql, workers: Number(server.ready.workers), wal: walPrepared.get(key)! };
  } catch (error) {
    await sql?.end({ timeout: 1 });
    await server.stop();
    throw error;
  }
}

/**
 * /ready tells one worker's cache size; each new connection may land on any worker, so the
 * caches count as loaded once enough answers in a row show every row.
 */
async function waitForCaches(server: RunningServer, expected: { rooms: number; users: number }): Promise<void> {
  const deadline = Date.now() + 30_000;
  let inARow = 0;
  while (inARow < 12) {
    if (Date.now() > deadline) throw new Error(`roombook's workers did not load ${expected.rooms} rooms and ${expected.users} users within 30 s`);
    const { status, body } = await getJson(`${server.url}/ready`).catch(() => ({ status: 0, body: undefined }));
    const counts = body as { rooms?: number; users?: number } | undefined;
    if (status === 200 && (counts?.rooms ?? 0) >= expected.rooms && (counts?.users ?? 0) >= expected.users) inARow++;
    else {
      inARow = 0;
      await sleep(100);
    }
  }
}

export async function stopRoombook(roombook: Roombook | undefined): Promise<void> {
  if (!roombook) return;
  await roombook.sql.end({ timeout: 2 }).catch(() => {});
  await roombook.server.stop();
}

/**
 * The PostgreSQL postmaster roombook uses, for CPU readings: the embedded one is roombook's child
 * named postgres; on a server (DATABASE_URL), the parent of our own backend, whose tree then also
 * holds whatever else that server is doing.
 */
export async function postmasterPid(roombook: Roombook, database: BenchDatabase, sql: Sql): Promise<number> {
  if (database.kind === 'embedded') {
    const child = [...allStats().values()].find((stat) => stat.ppid === roombook.server.pid && stat.comm === 'postgres');
    if (!child) throw new Error('cannot find the embedded postmaster among roombook\'s children');
    return child.pid;
  }
  const [row] = await sql`SELECT pg_backend_pid() AS pid`;
  const backend = readStat(row.pid);
  if (!backend) throw new Error('the PostgreSQL server is not on this machine: its CPU cannot be read');
  return backend.ppid;
}
