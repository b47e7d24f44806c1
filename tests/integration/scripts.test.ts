import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { connect, createDatabase } from '../helpers/database';
import { collect, startServer } from '../helpers/server';

/** npm run db:migrate and db:seed, run as built (dist/scripts), against a database of their own. */
const SCRIPTS = path.resolve(__dirname, '../../dist/scripts');
const MIGRATIONS = fs.readdirSync(path.resolve(__dirname, '../../sql')).filter((name) => /^\d+_.*\.sql$/.test(name)).sort();

function run(script: string, env: Record<string, string>, args: string[] = []) {
  return collect(spawn(process.execPath, [path.join(SCRIPTS, script), ...args], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  }));
}

let database: Awaited<ReturnType<typeof createDatabase>>;
let sql: ReturnType<typeof connect>;

beforeAll(async () => {
  database = await createDatabase();
  sql = connect(database.url);
});
afterAll(async () => {
  await sql?.end();
  await database?.drop();
});

describe('db:migrate', () => {
  test('applies every migration once; a second run has nothing to do', async () => {
    const first = await run('migrate.js', { DATABASE_URL: database.url });
    expect(first).toEqual({ code: 0, output: `applied: ${MIGRATIONS.join(', ')}\n` });
    const versions = await sql`SELECT version FROM schema_migrations ORDER BY version`;
    expect(versions.map((row) => row.version)).toEqual(MIGRATIONS);
    expect(await run('migrate.js', { DATABASE_URL: database.url })).toEqual({ code: 0, output: 'nothing to apply: the schema is current\n' });
  });

  test('without DATABASE_URL it says what to set and fails', async () => {
    const { code, output } = await run('migrate.js', { DATABASE_URL: '' });
    expect(code).toBe(1);
    expect(output).toMatch(/^db:migrate failed: set DATABASE_URL/);
  });
});

describe('db:seed', () => {
  test('adds ROOM1..ROOMn and user1..usern in bulk, with one reload notification and the triggers back on', async () => {
    const notifications: string[] = [];
    const listening = await sql.listen('roombook_names', (payload) => notifications.push(payload));
    const seeded = await run('seed.js', { DATABASE_URL: database.url }, ['--rooms', '50', '--users', '70']);
    expect(seeded).toEqual({ code: 0, output: 'added 50 rooms (of ROOM1..ROOM50) and 70 users (of user1..user70)\n' });
    const rooms = await sql`SELECT name FROM rooms ORDER BY id`;
    expect(rooms.map((row) => row.name)).toEqual(Array.from({ length: 50 }, (_, i) => `ROOM${i + 1}`));
    const [users] = await sql`SELECT count(*)::int AS n, min(name) AS first FROM users WHERE name ~ '^user[0-9]+$'`;
    expect(users).toEqual({ n: 70, first: 'user1' });
    await new Promise((resolve) => setTimeout(resolve, 200)); // notifications arrive after the commit
    expect(notifications).toEqual(['{"op":"reload"}']); // none per row
    const triggers = await sql`SELECT tgname, tgenabled FROM pg_trigger WHERE tgname IN ('rooms_notify', 'users_notify') ORDER BY tgname`;
    expect(triggers).toEqual([{ tgname: 'rooms_notify', tgenabled: 'O' }, { tgname: 'users_notify', tgenabled: 'O' }]);
    await listening.unlisten();
  });

  test('is idempotent: seeding again adds only the names that are missing', async () => {
    const again = await run('seed.js', { DATABASE_URL: database.url }, ['--users', '70', '--rooms', '60']);
    expect(again).toEqual({ code: 0, output: 'added 10 rooms (of ROOM1..ROOM60) and 0 users (of user1..user70)\n' });
    const [{ n }] = await sql`SELECT count(*)::int AS n FROM rooms`;
    expect(n).toBe(60);
  });

  test('running workers reload their caches once the seed commits', async () => {
    const server = await startServer({ databaseUrl: database.url, workers: 2 });
    try {
      const reloads = async () => Number(/^roombook_cache_reloads_total (\d+)$/m.exec(await (await fetch(server.metricsUrl)).text())![1]);
      const before = await reloads();
      expect((await run('seed.js', { DATABASE_URL: database.url }, ['--rooms', '65'])).code).toBe(0);
      const deadline = Date.now() + 5000;
      while ((await reloads()) < before + 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await reloads()).toBe(before + 2); // one per worker
      const ready = (await (await fetch(`${server.url}/ready`)).json()) as { rooms: number };
      expect(ready.rooms).toBe(65);
    } finally {
      await server.stop();
    }
  });

  test.each([
    [['--rooms'], /--rooms needs a whole number/],
    [['--rooms', '-1'], /--rooms needs a whole number/],
    [['--rooms', '10000001'], /--rooms needs a whole number/],
    [['--tables', '3'], /unexpected "--tables"/],
  ])('refuses %j with its usage, exit 2', async (args, message) => {
    const { code, output } = await run('seed.js', { DATABASE_URL: database.url }, args);
    expect(code).toBe(2);
    expect(output).toMatch(message);
    expect(output).toContain('usage: npm run db:seed -- --rooms N --users N');
  });

  test('without arguments it prints its usage and exits 2, adding nothing', async () => {
    const [{ n: before }] = await sql`SELECT count(*)::int AS n FROM rooms`;
    const { code, output } = await run('seed.js', { DATABASE_URL: database.url });
    expect(code).toBe(2);
    expect(output).toMatch(/^db:seed: nothing to add\nusage: npm run db:seed -- --rooms N --users N\n/);
    const [{ n: after }] = await sql`SELECT count(*)::int AS n FROM rooms`;
    expect(after).toBe(before);
  });

  test('--help prints its usage and exits 0', async () => {
    const { code, output } = await run('seed.js', {}, ['--help']);
    expect(code).toBe(0);
    expect(output).toMatch(/^usage: npm run db:seed -- --rooms N --users N\n/);
  });

  test('on a database without the schema it points to db:migrate', async () => {
    const empty = await createDatabase();
    try {
      const { code, output } = await run('seed.js', { DATABASE_URL: empty.url }, ['--rooms', '1']);
      expect(code).toBe(1);
      expect(output).toContain('(run npm run db:migrate first)');
    } finally {
      await empty.drop();
    }
  });
});
