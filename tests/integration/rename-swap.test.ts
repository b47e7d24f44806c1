/**
 * Two renames that take each other's names (a swap, A -> B's name while B -> A's name) each hold
 * their own row and wait for the other's uncommitted name: PostgreSQL ends one of them with
 * "deadlock detected" (40P01) after deadlock_timeout. Found by a mixed concurrent soak (one 500 in
 * about 1.1 million requests). The window between the two updates is microseconds wide through the
 * API, so here a transaction of the test's own stands for the other rename and holds it open.
 */
import type postgres from 'postgres';
import { connect, createDatabase } from '../helpers/database';
import { startServer, type RunningServer } from '../helpers/server';
import { client } from '../helpers/http';
import { waitFor } from '../helpers/wait';

let server: RunningServer;
let database: Awaited<ReturnType<typeof createDatabase>>;
let sql: postgres.Sql;
let api: ReturnType<typeof client>;

beforeAll(async () => {
  database = await createDatabase();
  server = await startServer({ databaseUrl: database.url });
  sql = connect(database.url);
  api = client(server.url);
});
afterAll(async () => {
  await sql?.end();
  await server?.stop();
  await database?.drop();
});

describe.each([
  { path: '/rooms', table: 'rooms', names: ['SWAPA', 'SWAPB', 'SWAPTMP', 'SWAPOTHER'] },
  { path: '/users', table: 'users', names: ['swapa', 'swapb', 'swaptmp', 'swapother'] },
])('$path', ({ path, table, names: [nameA, nameB, nameTmp, nameOther] }) => {
  test('a rename caught in a deadlock with a concurrent rename is answered by its outcome, not a 500', async () => {
    const a = (await api.post(path, { name: nameA })).body as { id: number };
    const b = (await api.post(path, { name: nameB })).body as { id: number };
    let answer: Promise<{ status: number; body: any }> | undefined;
    await sql.begin(async (tx) => {
      // The other rename: B gives up its name, uncommitted...
      await tx`UPDATE ${tx(table)} SET name = ${nameTmp} WHERE id = ${b.id}`;
      // ...while the API renames A to it, and so waits for this transaction (holding A's row)...
      answer = api.patch(`${path}/${a.id}`, { name: nameB });
      await waitFor('the API rename to wait for the other one', async () => (await sql`
        SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
          AND query LIKE ${`UPDATE "${table}" SET name%`}`).length > 0, 10_000, 20);
      // ...and this one then needs A's row: a cycle. The API's statement, waiting longer, is the one ended.
      await tx`UPDATE ${tx(table)} SET name = ${nameOther} WHERE id = ${a.id}`;
    });
    const { status, body } = await answer!;
    // Once the other rename has committed, B's name is free: the rename, decided again, takes it.
    expect({ status, body }).toEqual({ status: 200, body: { id: a.id, name: nameB } });
    expect(server.logs()).not.toContain('deadlock detected');
  }, 30_000);
});
