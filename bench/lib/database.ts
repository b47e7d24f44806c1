import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';

/**
 * The database a bench run uses, always its own. With DATABASE_URL (any database on a server we
 * may create databases on) a database roombook_bench_<random> is created there and dropped at the
 * end; without, roombook starts its embedded PostgreSQL in a temporary DATA_DIR, removed at the end.
 */
export type Sql = postgres.Sql<{}>;

export interface BenchDatabase {
  kind: 'embedded' | 'server';
  description: string;
  /** Environment that points roombook at this database. */
  serverEnv: Record<string, string>;
  /** A connection to roombook's database, once roombook runs (the embedded one exists only then). */
  connect(redactedUrl: string): Promise<Sql>;
  /** The URL of roombook's database with its password, from the redacted one roombook logs. */
  fullUrl(redactedUrl: string): string;
  /** Drops the database, or removes the data folder; call after roombook has stopped. */
  dispose(): Promise<void>;
}

export async function createBenchDatabase(serverUrl: string | undefined): Promise<BenchDatabase> {
  return serverUrl ? onServer(serverUrl) : embedded();
}

const open = (url: string, max = 2): Sql =>
  postgres(url, { max, onnotice: () => {}, connect_timeout: 5, connection: { application_name: 'roombook-bench' } }) as unknown as Sql;

async function onServer(serverUrl: string): Promise<BenchDatabase> {
  const name = `roombook_bench_${randomBytes(4).toString('hex')}`;
  const admin = open(serverUrl, 1);
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    kind: 'server',
    description: `database ${name} on ${url.host} (from DATABASE_URL; dropped at the end)`,
    serverEnv: { DATABASE_URL: url.toString() },
    connect: async () => open(url.toString()),
    fullUrl: () => url.toString(),
    async dispose() {
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch((error) =>
        process.stderr.write(`bench: could not drop ${name}: ${(error as Error).message}\n`));
      await admin.end({ timeout: 2 });
    },
  };
}

async function embedded(): Promise<BenchDatabase> {
  // As root, PostgreSQL runs as user postgres, which must reach the folder: 0755 under the temp dir.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roombook-bench-'));
  fs.chmodSync(dir, 0o755);
  const fullUrl = (redactedUrl: string): string => {
    const url = new URL(redactedUrl);
    url.password = encodeURIComponent(fs.readFileSync(path.join(dir, 'db-password'), 'utf8').trim());
    return url.toString();
  };
  return {
    kind: 'embedded',
    description: `embedded PostgreSQL started by roombook in ${dir} (removed at the end)`,
    serverEnv: { DATABASE_URL: '', DATA_DIR: dir },
    fullUrl,
    connect: async (redactedUrl: string) => open(fullUrl(redactedUrl)),
    async dispose() {
      stopLeftoverPostmaster(path.join(dir, 'pg'));
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    },
  };
}

/** Another roombook on a database that a first one runs (or was given): nothing to create or drop. */
export function sharedDatabase(url: string): BenchDatabase {
  return {
    kind: 'server', description: 'shared', serverEnv: { DATABASE_URL: url },
    connect: async () => open(url), fullUrl: () => url, dispose: async () => {},
  };
}

/** Roombook stops its PostgreSQL on SIGTERM; after a SIGKILL it would be left holding the folder. */
function stopLeftoverPostmaster(cluster: string): void {
  try {
    const pid = Number(fs.readFileSync(path.join(cluster, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (pid && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(cluster)) process.kill(pid, 'SIGQUIT');
  } catch { /* not running */ }
}

/**
 * Gives a new cluster the WAL of a server that has been running. A new cluster has no WAL segment
 * to reuse, so every 16 MB of WAL is a new file, which the committing backend fills with zeros
 * while every other commit waits (wal_init_zero): under the fresh workload that was a stall of
 * tens of ms every 1-2 s, and p99 wandered from 5 to 40 ms run after run. A server that has run
 * for a while renames old segments for reuse at each checkpoint instead. So: write `megabytes` of
 * WAL, drop it, CHECKPOINT (which recycles those segments, up to max_wal_size). Returns what it
 * did, for the report; a role that may not CHECKPOINT gets the reason instead.
 */
export async function recycleWal(sql: Sql, megabytes: number): Promise<string> {
  if (megabytes <= 0) return 'WAL not prepared (--wal-mb 0): a new cluster creates a WAL file every 16 MB';
  try {
    await sql`CREATE TABLE IF NOT EXISTS bench_wal_fill (filler text)`;
    // 1 kB rows of md5 text (not compressed): about 1 MB of WAL per 1,000 rows.
    await sql`INSERT INTO bench_wal_fill SELECT repeat(md5(g::text), 32) FROM generate_series(1, ${megabytes * 1000}::int) g`;
    await sql`DROP TABLE bench_wal_fill`;
    await sql`CHECKPOINT`;
    return `${megabytes} MB of WAL written and checkpointed before the runs, so that WAL files are reused as on a running server`;
  } catch (error) {
    await sql`DROP TABLE IF EXISTS bench_wal_fill`.catch(() => undefined);
    return `WAL not prepared (${(error as Error).message}): a new cluster creates a WAL file every 16 MB`;
  }
}

export async function resetBookings(sql: Sql): Promise<void> {
  await sql`TRUNCATE bookings`;
}

export async function countBookings(sql: Sql): Promise<number> {
  const [row] = await sql`SELECT count(*)::int AS n FROM bookings`;
  return row.n;
}

/** (room, day) pairs booked more than once: must be 0 (UNIQUE forbids it; checked anyway). */
export async function doubleBookedSlots(sql: Sql): Promise<number> {
  const [row] = await sql`SELECT count(*)::int AS n FROM (SELECT 1 FROM bookings GROUP BY room_id, day HAVING count(*) > 1) AS twice`;
  return row.n;
}

/** The settings that move commit-heavy figures, printed beside them. */
export async function serverSettings(sql: Sql): Promise<Record<string, string>> {
  const rows = await sql`SELECT name, setting, unit FROM pg_settings
    WHERE name IN ('server_version', 'fsync', 'synchronous_commit', 'shared_buffers', 'max_connections', 'wal_level', 'commit_delay')`;
  const settings: Record<string, string> = {};
  for (const row of rows) settings[row.name] = row.unit === '8kB' ? `${(Number(row.setting) * 8) / 1024} MB` : `${row.setting}${row.unit ?? ''}`;
  return settings;
}
