import { settings } from '../src/config';
import { createSql } from '../src/db/sql';
import { migrate } from '../src/db/migrate';

/**
 * `npm run db:migrate`: applies sql/ migrations to DATABASE_URL, as the primary does at every
 * start (same code, same advisory lock), for deployments that migrate before rolling out.
 */
async function main(): Promise<void> {
  const url = settings.databaseUrl.parse(process.env.DATABASE_URL ?? '');
  if (!url) {
    throw new Error('set DATABASE_URL to a postgres:// URL (the embedded PostgreSQL is migrated by `npm start` itself)');
  }
  const sql = createSql(url, { max: 1, applicationName: 'roombook-migrate' });
  try {
    const applied = await migrate(sql, undefined, (message) => process.stderr.write(`warning: ${message}\n`));
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'nothing to apply: the schema is current\n');
  } finally {
    await sql.end({ timeout: 2 });
  }
}

main().catch((error) => {
  process.stderr.write(`db:migrate failed: ${(error as Error).message}\n`);
  process.exit(1);
});
