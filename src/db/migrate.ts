import fs from 'node:fs';
import path from 'node:path';
import type { Sql } from './sql';
import { migrationsDir } from '../paths';
import { withDeadline } from './deadline';

/**
 * Applies sql/NNN_*.sql in order, each once, recorded in schema_migrations. All of it runs in one
 * transaction holding an advisory lock, so hosts starting at the same moment apply them once:
 * the second waits, then finds them recorded.
 */
const MIGRATION_LOCK = 72_010_001; // any constant shared by every roombook process

export async function migrate(sql: Sql, directory = migrationsDir): Promise<string[]> {
  // A database host that never answers (packets dropped) would hold the start for good, without a
  // word: postgres.js 3.4.9's connect_timeout does not end such an attempt. The migrations' own
  // wait (another host holding the lock) has no deadline; reaching the server has.
  await withDeadline(sql`SELECT 1`, 'connecting to the database');
  const files = fs.readdirSync(directory).filter((name) => /^\d+_.*\.sql$/.test(name)).sort();
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await refuseStrayTables(tx as unknown as Sql);
    // Only where it is missing: a role that may use the tables but not create any (PostgreSQL 15
    // grants no CREATE on schema public to others than its owner) starts on a schema that another
    // role migrated, and CREATE TABLE IF NOT EXISTS needs that privilege even when the table exists.
    const [{ known }] = await tx`SELECT to_regclass('schema_migrations') IS NOT NULL AS known`;
    if (!known) {
      await tx`CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
    }
    const done = new Set((await tx`SELECT version FROM schema_migrations`).map((row) => row.version as string));
    const applied: string[] = [];
    for (const file of files.filter((name) => !done.has(name))) {
      await tx.unsafe(fs.readFileSync(path.join(directory, file), 'utf8'));
      await tx`INSERT INTO schema_migrations (version) VALUES (${file})`;
      applied.push(file);
    }
    return applied;
  });
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
