import fs from 'node:fs';
import path from 'node:path';
import type { Sql } from './sql';
import { migrationsDir } from '../paths';
import { withDeadline } from './deadline';

/**
 * Applies sql/NNN_*.sql in order, each once, recorded in schema_migrations. All of it runs on one
 * connection holding an advisory lock, so hosts starting at the same moment apply them once: the
 * second waits, then finds them recorded. Each file runs in a transaction of its own, so the locks
 * a migration takes are held only while it runs: in one transaction for all, the ACCESS EXCLUSIVE
 * lock 004 takes on bookings was held while 005 rewrote the names after it (13-28 s with 500,000
 * users), and every read and booking of a roombook still running on the database (a rolling
 * upgrade) waited that long. Every prefix of the migrations is the schema of a release, so a start
 * stopped between two files (killed, or a file failing) leaves a schema the next start continues.
 */
const MIGRATION_LOCK = 72_010_001; // any constant shared by every roombook process

/**
 * `warn` hears of migrations the database has and this version does not: a newer roombook migrated
 * it (a rollback, or an old host restarting during a rolling upgrade). The start goes on, since the
 * older version may well work on that schema, but the operator learns of it.
 */
export async function migrate(sql: Sql, directory = migrationsDir, warn: (message: string) => void = () => {}): Promise<string[]> {
  // A database host that never answers (packets dropped) would hold the start for good, without a
  // word: postgres.js 3.4.9's connect_timeout does not end such an attempt. The migrations' own
  // wait (another host holding the lock) has no deadline; reaching the server has.
  await withDeadline(sql`SELECT 1`, 'connecting to the database');
  const files = fs.readdirSync(directory).filter((name) => /^\d+_.*\.sql$/.test(name)).sort();
  // A session lock, on a connection of its own: it outlives each file's transaction, and goes with
  // the connection if this process dies.
  const connection = await sql.reserve();
  try {
    await connection`SELECT pg_advisory_lock(${MIGRATION_LOCK})`;
    try {
      const pending = await inTransaction(connection, async () => {
        await refuseStrayTables(connection);
        // Only where it is missing: a role that may use the tables but not create any (PostgreSQL 15
        // grants no CREATE on schema public to others than its owner) starts on a schema that another
        // role migrated, and CREATE TABLE IF NOT EXISTS needs that privilege even when the table exists.
        const [{ known }] = await connection`SELECT to_regclass('schema_migrations') IS NOT NULL AS known`;
        if (!known) {
          await connection`CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
        }
        const done = new Set((await connection`SELECT version FROM schema_migrations`).map((row) => row.version as string));
        const unknown = [...done].filter((name) => !files.includes(name)).sort();
        if (unknown.length) {
          warn(`the database has migrations this version of roombook does not have (${unknown.join(', ')}): a newer version migrated it; this one was not written for that schema`);
        }
        return files.filter((name) => !done.has(name));
      });
      for (const file of pending) {
        await inTransaction(connection, async () => {
          await connection.unsafe(fs.readFileSync(path.join(directory, file), 'utf8'));
          await connection`INSERT INTO schema_migrations (version) VALUES (${file})`;
        });
      }
      return pending;
    } finally {
      await connection`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`.catch(() => undefined);
    }
  } finally {
    connection.release();
  }
}

/** `work` between BEGIN and COMMIT on the reserved connection; ROLLBACK if it throws. */
async function inTransaction<T>(connection: Sql, work: () => Promise<T>): Promise<T> {
  await connection`BEGIN`;
  try {
    const result = await work();
    await connection`COMMIT`;
    return result;
  } catch (error) {
    await connection`ROLLBACK`.catch(() => undefined);
    throw error;
  }
}

const TABLES = ['schema_migrations', 'rooms', 'users', 'bookings', 'roombook_settings'];

/**
 * roombook names its tables without a schema: each is created in the first schema of search_path
 * that exists (current_schema()) and read wherever search_path finds it first. A search_path set by
 * ALTER DATABASE/ROLE that names no such schema, or finds a table of these names in another schema
 * (a `rooms` of someone else's before roombook's own), would create the migrations anew beside the
 * applied ones, or read the wrong table: refused, naming search_path, rather than with PostgreSQL's
 * `relation "rooms" already exists`.
 */
async function refuseStrayTables(sql: Sql): Promise<void> {
  const [{ schema, path }] = await sql`SELECT current_schema() AS schema, current_setting('search_path') AS path`;
  if (schema === null) throw new Error(`search_path is ${path}, and none of its schemas exists to hold roombook's tables`);
  const found = await sql`SELECT t.name, n.nspname AS schema FROM unnest(${TABLES}::text[]) AS t(name)
    JOIN pg_class c ON c.oid = to_regclass(quote_ident(t.name)) JOIN pg_namespace n ON n.oid = c.relnamespace`;
  const elsewhere = found.find((row) => row.schema !== schema);
  if (elsewhere) {
    throw new Error(`search_path is ${path}: roombook's tables go in schema ${schema}, but it finds table ${elsewhere.name} in schema ${elsewhere.schema}`);
  }
  if (found.length > 0 && !found.some((row) => row.name === 'schema_migrations')) {
    throw new Error(`table ${found[0].name} in schema ${schema} (search_path is ${path}) was not made by roombook's migrations: give roombook a schema or database of its own`);
  }
}
