/**
 * Days through the real server on a database whose session defaults are not PostgreSQL's: an
 * external DATABASE_URL server may set DateStyle (how a `date` is written out) and TimeZone per
 * database or role. Whatever they are, every day roombook answers is YYYY-MM-DD and means the
 * day that was booked.
 */
import fs from 'node:fs';
import path from 'node:path';
import { connect, createDatabase } from '../helpers/database';
import { scratchDir } from '../helpers/leftover-clusters';
import { startServer, type RunningServer } from '../helpers/server';
import { client, dayFromToday, shortForm } from '../helpers/http';

let server: RunningServer;
let database: Awaited<ReturnType<typeof createDatabase>>;
let api: ReturnType<typeof client>;

beforeAll(async () => {
  database = await createDatabase();
  const admin = connect(database.url);
  await admin.unsafe(`ALTER DATABASE ${database.name} SET DateStyle = 'SQL, DMY'`);
  await admin.unsafe(`ALTER DATABASE ${database.name} SET TimeZone = 'Pacific/Kiritimati'`);
  await admin.end();
  server = await startServer({ databaseUrl: database.url });
  api = client(server.url);
});
afterAll(async () => {
  await server?.stop();
  await database?.drop();
});

test('with DateStyle SQL, DMY and TimeZone +14 on the database, days are answered as YYYY-MM-DD and booked days are not free', async () => {
  const room = (await api.post('/rooms', { name: 'styled' })).body;
  const user = (await api.post('/users', { name: 'styled' })).body;
  const today = dayFromToday(0);
  const later = dayFromToday(40);

  const first = await api.post('/book', { room_name: room.name, user_name: user.name, date: shortForm(today) });
  expect(first.status).toBe(201);
  expect(first.body.date).toBe(today);
  const second = await api.post('/bookings', { room_id: room.id, user_id: user.id, date: later });
  expect(second.status).toBe(201);

  expect((await api.get(`/bookings/${first.body.id}`)).body.date).toBe(today);
  const list = await api.get(`/bookings?room_id=${room.id}&from=${today}&to=${later}`);
  expect(list.body.items.map((b: { date: string }) => b.date)).toEqual([today, later]);

  const availability = await api.get(`/rooms/${room.id}/availability?from=${today}&to=${dayFromToday(2)}`);
  expect(availability.body).toMatchObject({
    booked: [{ date: today, booking_id: first.body.id }],
    free: [dayFromToday(1), dayFromToday(2)],
  });
  expect((await api.post('/book', { room_name: room.name, user_name: user.name, date: today })).body.error).toBe('already_booked');
});

test('a DateStyle in DATABASE_URL does not change the days answered', async () => {
  // postgres.js lets the URL's parameters override roombook's own DateStyle ISO.
  const styled = await startServer({ databaseUrl: `${database.url}?DateStyle=SQL,DMY`, workers: 1 });
  try {
    const styledApi = client(styled.url);
    const room = (await styledApi.post('/rooms', { name: 'url-styled' })).body;
    const user = (await styledApi.post('/users', { name: 'url-styled' })).body;
    const day = dayFromToday(3);
    const booked = await styledApi.post('/bookings', { room_id: room.id, user_id: user.id, date: day });
    expect(booked.status).toBe(201);

    expect((await styledApi.get(`/bookings/${booked.body.id}`)).body.date).toBe(day);
    expect((await styledApi.get(`/bookings?room_id=${room.id}`)).body.items.map((b: { date: string }) => b.date)).toEqual([day]);
    const availability = await styledApi.get(`/rooms/${room.id}/availability?from=${day}&to=${dayFromToday(4)}`);
    expect(availability.body).toMatchObject({ booked: [{ date: day, booking_id: booked.body.id }], free: [dayFromToday(4)] });
  } finally {
    await styled.stop();
  }
});

test('a clock set back (NTP correcting a clock a year ahead) moves today back at once', async () => {
  const dir = scratchDir('roombook-clock-');
  const correctedFile = path.join(dir, 'corrected');
  const ahead = await startServer({ databaseUrl: database.url, workers: 1,
    nodeArgs: ['--require', path.resolve(__dirname, '../helpers/clock-ahead.cjs')], env: { CLOCK_CORRECTED_FILE: correctedFile } });
  try {
    const aheadApi = client(ahead.url);
    const room = (await aheadApi.post('/rooms', { name: 'clock-ahead' })).body;
    const user = (await aheadApi.post('/users', { name: 'clock-ahead' })).body;
    const today = dayFromToday(0);
    const booking = { room_id: room.id, user_id: user.id, date: today };
    expect((await aheadApi.get(`/rooms/${room.id}/availability`)).body.from).toBe(dayFromToday(365));
    expect((await aheadApi.post('/bookings', booking)).body.error).toBe('date_in_past');

    fs.writeFileSync(correctedFile, '');
    await new Promise((resolve) => setTimeout(resolve, 200)); // the preload looks every 50 ms
    expect((await aheadApi.get(`/rooms/${room.id}/availability`)).body.from).toBe(today);
    expect((await aheadApi.post('/bookings', booking)).status).toBe(201);
  } finally {
    await ahead.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
