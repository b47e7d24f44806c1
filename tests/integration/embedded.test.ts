import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { type EmbeddedDatabase, startEmbeddedPostgres } from '../../src/db/embedded';
import { scratchDir } from '../helpers/leftover-clusters';

/** Real PostgreSQL binaries, no mocks: initdb, start, restart on the same data, stop. */
const tempDirs: string[] = [];
const messages: string[] = [];
const log = (message: string) => messages.push(message);

function tempDir(): string {
  const dir = scratchDir('roombook-embedded-test-');
  tempDirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

test('keeps data and password across restarts; stop is idempotent', async () => {
  const parent = tempDir();
  const dataDir = path.join(parent, 'data');
  let db: EmbeddedDatabase | undefined;
  try {
    db = await startEmbeddedPostgres({ dataDir, dataDirIsDefault: false, port: 0, log });
    expect(db.dataDir).toBe(dataDir);
    expect(db.url).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/roombook$/);
    expect(fs.statSync(path.join(dataDir, 'db-password')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(dataDir, 'pg')).mode & 0o777).toBe(0o700);
    const first = postgres(db.url, { max: 1, onnotice: () => {} });
    expect((await first`show max_connections`)[0].max_connections).toBe('200'); // the default
    await first`create table note (id int primary key, body text not null)`;
    await first`insert into note values (1, 'survives restarts')`;
    await first.end();
    const firstUrl = db.url;
    await db.stop();
    await db.stop(); // idempotent

    // The primary sizes max_connections from its workers (src/db/connection-budget.ts).
    db = await startEmbeddedPostgres({ dataDir, dataDirIsDefault: false, port: 0, maxConnections: 260, log });
    const password = (url: string) => new URL(url).password;
    expect(password(db.url)).toBe(password(firstUrl));
    const second = postgres(db.url, { max: 1 });
    expect((await second`show max_connections`)[0].max_connections).toBe('260');
    const rows = await second`select body from note where id = 1`;
    await second.end();
    expect(rows[0]?.body).toBe('survives restarts');
  } finally {
    await db?.stop();
  }
  await db.stop(); // still idempotent after the finally
});

const asRoot = process.getuid?.() === 0;
(asRoot ? test : test.skip)('an explicit DATA_DIR the postgres user cannot reach is an error naming DATA_DIR', async () => {
  const hidden = tempDir(); // postgres cannot traverse it once it is 0700
  fs.chmodSync(hidden, 0o700);
  const attempt = startEmbeddedPostgres({ dataDir: path.join(hidden, 'data'), dataDirIsDefault: false, port: 0, log });
  await expect(attempt).rejects.toThrow(/DATA_DIR.*cannot reach/);
});
if (!asRoot) {
  test('unreachable DATA_DIR check', () => {
    console.log('skipped: an unreachable DATA_DIR only matters when running as root (postgres runs as another user)');
  });
}
