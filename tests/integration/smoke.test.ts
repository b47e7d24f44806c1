import { createDatabase } from '../helpers/database';
import { startServer, type RunningServer } from '../helpers/server';
import { client, dayFromToday } from '../helpers/http';

let server: RunningServer;
let database: Awaited<ReturnType<typeof createDatabase>>;

beforeAll(async () => {
  database = await createDatabase();
  server = await startServer({ databaseUrl: database.url });
});
afterAll(async () => {
  await server?.stop();
  await database?.drop();
});

test('a room and a user created, then booked once', async () => {
  const api = client(server.url);
  expect((await api.post('/rooms', { name: 'smoke1' })).status).toBe(201);
  expect((await api.post('/users', { name: 'Smoker' })).status).toBe(201);
  const day = dayFromToday(3);
  const first = await api.post('/book', { room_name: 'SMOKE1', user_name: 'smoker', date: day });
  expect(first.status).toBe(201);
  expect(first.body).toMatchObject({ room_name: 'SMOKE1', user_name: 'smoker', date: day });
  const second = await api.post('/book', { room_name: 'smoke1', user_name: 'smoker', date: day });
  expect(second).toMatchObject({ status: 409, body: { error: 'already_booked' } });
});
