import { createDatabase } from '../helpers/database';
import { startServer } from '../helpers/server';

/**
 * Logs are JSON lines on stderr: one start line that says what runs where, events after that,
 * and requests only at LOG_LEVEL=debug.
 */
let database: Awaited<ReturnType<typeof createDatabase>>;
let databaseUrl: string;
const PASSWORD_IN_URL = 'not-logged-secret';

beforeAll(async () => {
  database = await createDatabase();
  // With trust authentication the password is ignored; the embedded server's URL has its own.
  const url = new URL(database.url);
  if (!url.password) url.password = PASSWORD_IN_URL;
  databaseUrl = url.toString();
});
afterAll(async () => {
  await database?.drop();
});

async function runAndLog(logLevel: string, paths: string[]): Promise<Record<string, any>[]> {
  const server = await startServer({ databaseUrl, workers: 1, env: { LOG_LEVEL: logLevel } });
  for (const path of paths) await (await fetch(server.url + path)).text();
  await server.stop();
  return server.logs().split('\n').filter((line) => line !== '').map((line) => JSON.parse(line));
}

test('at info: JSON lines, a start line with what runs where, and no line per request', async () => {
  const lines = await runAndLog('info', ['/health', '/nowhere', '/rooms']);
  for (const line of lines) {
    expect(line).toMatchObject({ level: expect.stringMatching(/^(info|warn|error)$/), pid: expect.any(Number), message: expect.any(String) });
    expect(new Date(line.time).toISOString()).toBe(line.time);
  }
  const started = lines.find((line) => line.message === 'roombook listening')!;
  expect(started).toMatchObject({
    role: 'primary', version: expect.stringMatching(/^\d+\.\d+\.\d+/), workers: 1, embeddedPostgres: false,
    port: expect.any(Number), metricsPort: expect.any(Number), url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
  });
  const password = new URL(databaseUrl).password;
  expect(started.database).not.toContain(password);
  expect(started.database).toContain(':***@');
  expect(lines.filter((line) => line.message === 'request')).toEqual([]);
});

test('at debug: one line per request, with its route, status and time', async () => {
  const lines = await runAndLog('debug', ['/health', '/nowhere', '/rooms?limit=1']);
  const requests = lines.filter((line) => line.message === 'request');
  expect(requests.map((line) => [line.level, line.role, line.method, line.url, line.status])).toEqual([
    ['debug', 'worker', 'GET', '/health', 200],
    ['debug', 'worker', 'GET', '/rooms', 200],
  ]); // the 404 of an unknown path is counted in metrics, not logged
  for (const line of requests) expect(line.ms).toBeGreaterThanOrEqual(0);
});
