import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatabase } from '../helpers/database';
import { startServer } from '../helpers/server';
import { createSql, type Sql } from '../../src/db/sql';
import { migrate } from '../../src/db/migrate';
import { migrationsDir } from '../../src/paths';

/**
 * sql/005_names_in_nfc.sql on a real database holding what the migrations before it allowed: names
 * stored out of NFC, as the name normalisation before it stored some (case mapping after NFC).
 */
let database: Awaited<ReturnType<typeof createDatabase>>;
let sql: Sql;
let before: string;

beforeAll(async () => {
  database = await createDatabase();
  sql = createSql(database.url, { max: 1, applicationName: 'roombook-migrations-test' });
  before = fs.mkdtempSync(path.join(os.tmpdir(), 'roombook-migrations-'));
  for (const file of fs.readdirSync(migrationsDir).filter((name) => name < '005')) {
    fs.copyFileSync(path.join(migrationsDir, file), path.join(before, file));
  }
});
afterAll(async () => {
  await sql?.end();
  await database?.drop();
  fs.rmSync(before, { recursive: true, force: true });
});

const names = async (table: 'rooms' | 'users'): Promise<Record<string, number>> =>
  Object.fromEntries((await sql`SELECT id, name FROM ${sql(table)}`).map((row) => [row.name as string, row.id as number]));

test('names out of NFC are brought into it, unless the NFC form is taken or breaks the length rules', async () => {
  expect(await migrate(sql, before)).not.toContain('005_names_in_nfc.sql');
  const room = async (name: string) => (await sql`INSERT INTO rooms (name) VALUES (${name}) RETURNING id`)[0].id as number;
  const user = async (name: string) => (await sql`INSERT INTO users (name) VALUES (${name}) RETURNING id`)[0].id as number;
  const upperedDotted = await room('I\u0307AB'); // 'i\u0307ab' upper-cased, as stored before: NFC is '\u0130AB'
  const takenNfc = await room('\u0130CD');
  const takenOther = await room('I\u0307CD'); // its NFC form is taken by the row above
  const tooShort = await room('I\u0307X'); // NFC '\u0130X' has 2 characters
  const angstrom = await room('\u212bXY'); // two spellings of '\u00c5XY': the first row gets it
  const ringAbove = await room('A\u030aXY');
  const plain = await room('PLAIN');
  const decomposed = await user('e\u0301mile');
  const plainUser = await user('user1');

  expect(await migrate(sql)).toContain('005_names_in_nfc.sql');

  expect(await names('rooms')).toEqual({
    '\u0130AB': upperedDotted, '\u0130CD': takenNfc, 'I\u0307CD': takenOther, 'I\u0307X': tooShort,
    '\u00c5XY': angstrom, 'A\u030aXY': ringAbove, PLAIN: plain,
  });
  expect(await names('users')).toEqual({ '\u00e9mile': decomposed, user1: plainUser });
  expect(await migrate(sql)).toEqual([]); // applied once
});

/**
 * A rolling upgrade: a roombook still serving while the next one migrates. An early migration's lock
 * (004 drops the foreign keys: ACCESS EXCLUSIVE on bookings) must not be held while a later, long one
 * runs (005 rewrites names: 13-28 s with 500,000 users), or every read and booking of the running
 * roombook waits for the whole upgrade. Here: 911 locks a table as 004 does, 912 runs for 2 s.
 */
test('a migration\'s locks are released when it is applied, not held while the later ones run', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roombook-migrations-locks-'));
  const reader = createSql(database.url, { max: 1, applicationName: 'roombook-migrations-reader' });
  try {
    fs.writeFileSync(path.join(dir, '910_probe.sql'), 'CREATE TABLE probe (id integer);');
    expect(await migrate(sql, dir)).toEqual(['910_probe.sql']);
    fs.writeFileSync(path.join(dir, '911_lock_probe.sql'), 'ALTER TABLE probe ADD COLUMN extra integer;');
    fs.writeFileSync(path.join(dir, '912_slow.sql'), 'SELECT pg_sleep(2);');
    const migrating = migrate(sql, dir);
    await new Promise((resolve) => setTimeout(resolve, 500)); // 911 applied, 912 sleeping
    const started = Date.now();
    await reader`SELECT count(*) FROM probe`;
    expect(Date.now() - started).toBeLessThan(1000); // before: waited for 912's end (about 1.5 s)
    expect(await migrating).toEqual(['911_lock_probe.sql', '912_slow.sql']);
    expect(await migrate(sql, dir)).toEqual([]);
  } finally {
    await reader.end();
    fs.rmSync(dir, { recursive: true, force: true });
    await sql`DROP TABLE IF EXISTS probe`;
    await sql`DELETE FROM schema_migrations WHERE version IN ('910_probe.sql', '911_lock_probe.sql', '912_slow.sql')`;
  }
});

/**
 * A rollback: an older roombook starting on a database a newer one migrated. It starts (the older
 * code may work on the newer schema), but says so, naming the migrations it does not have.
 */
test('migrations the database has and this version does not are named in a warning', async () => {
  const warnings: string[] = [];
  await sql`INSERT INTO schema_migrations (version) VALUES ('998_from_the_future.sql'), ('999_also.sql')`;
  try {
    expect(await migrate(sql, undefined, (message) => warnings.push(message))).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('(998_from_the_future.sql, 999_also.sql): a newer version migrated it');
  } finally {
    await sql`DELETE FROM schema_migrations WHERE version IN ('998_from_the_future.sql', '999_also.sql')`;
  }
  warnings.length = 0;
  expect(await migrate(sql, undefined, (message) => warnings.push(message))).toEqual([]);
  expect(warnings).toEqual([]);
});

test('the service started on such a database serves, and its log names the migrations it does not have', async () => {
  await sql`INSERT INTO schema_migrations (version) VALUES ('998_from_the_future.sql')`;
  try {
    const server = await startServer({ databaseUrl: database.url, workers: 1 });
    try {
      expect((await fetch(`${server.url}/ready`)).status).toBe(200);
      expect(server.logs()).toMatch(/"level":"warn".*the database has migrations this version of roombook does not have \(998_from_the_future\.sql\)/);
    } finally {
      await server.stop();
    }
  } finally {
    await sql`DELETE FROM schema_migrations WHERE version = '998_from_the_future.sql'`;
  }
});
