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
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
      version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
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
