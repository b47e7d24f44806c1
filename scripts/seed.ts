import { settings } from '../src/config';
import { createSql, type Sql } from '../src/db/sql';
import { NAMES_CHANNEL } from '../src/db/listen';

/**
 * `npm run db:seed -- --rooms N --users N`: rooms ROOM1..ROOMn and users user1..usern, one
 * statement per table (generate_series), idempotent (ON CONFLICT DO NOTHING). The per-row NOTIFY
 * triggers are disabled inside the transaction (a million notifications would flood every
 * worker) and one reload notification at commit makes running workers re-read their caches.
 */
const MAX_ROWS = 10_000_000;

const USAGE = 'usage: npm run db:seed -- --rooms N --users N';

/** `--rooms N --users N`, in any order, each optional (0). */
export function parseSeedArgs(args: string[]): { rooms: number; users: number } {
  const counts = { rooms: 0, users: 0 };
  for (let i = 0; i < args.length; i += 2) {
    const key = args[i].replace(/^--/, '');
    if (!args[i].startsWith('--') || !(key === 'rooms' || key === 'users')) throw new Error(`unexpected ${JSON.stringify(args[i])}`);
    const raw = args[i + 1] ?? '';
    const value = /^\d{1,8}$/.test(raw) ? Number(raw) : NaN;
    if (!(value <= MAX_ROWS)) throw new Error(`${args[i]} needs a whole number from 0 to ${MAX_ROWS}, not ${JSON.stringify(raw)}`);
    counts[key] = value;
  }
  return counts;
}

export async function seed(sql: Sql, rooms: number, users: number): Promise<{ rooms: number; users: number }> {
  return sql.begin(async (tx) => {
    // ALTER TABLE is transactional: other sessions never see the triggers off. Its lock makes
    // concurrent room/user changes wait for the commit; bookings are not blocked.
    await tx`ALTER TABLE rooms DISABLE TRIGGER rooms_notify`;
    await tx`ALTER TABLE users DISABLE TRIGGER users_notify`;
    const roomRows = await tx`INSERT INTO rooms (name) SELECT 'ROOM' || i FROM generate_series(1, ${rooms}::int) AS i
      ON CONFLICT (name) DO NOTHING`;
    const userRows = await tx`INSERT INTO users (name) SELECT 'user' || i FROM generate_series(1, ${users}::int) AS i
      ON CONFLICT (name) DO NOTHING`;
    await tx`ALTER TABLE rooms ENABLE TRIGGER rooms_notify`;
    await tx`ALTER TABLE users ENABLE TRIGGER users_notify`;
    await tx`SELECT pg_notify(${NAMES_CHANNEL}, ${JSON.stringify({ op: 'reload' })})`; // delivered at commit
    return { rooms: roomRows.count, users: userRows.count };
  });
}

async function main({ rooms, users }: { rooms: number; users: number }): Promise<void> {
  const url = settings.databaseUrl.parse(process.env.DATABASE_URL ?? '');
  if (!url) throw new Error('set DATABASE_URL to a postgres:// URL of a migrated database (npm run db:migrate)');
  const sql = createSql(url, { max: 1, applicationName: 'roombook-seed' });
  try {
    const added = await seed(sql, rooms, users);
    process.stdout.write(`added ${added.rooms} rooms (of ROOM1..ROOM${rooms}) and ${added.users} users (of user1..user${users})\n`);
  } finally {
    await sql.end({ timeout: 2 });
  }
}

const HELP = `${USAGE}\n  adds the rooms ROOM1..ROOMn and users user1..usern that are missing, in DATABASE_URL's migrated database\n`;

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  let counts: { rooms: number; users: number };
  try {
    // Nothing asked for is a usage error too, rather than exit 0 having added nothing. Exit 2: usage.
    if (args.length === 0) throw new Error('nothing to add');
    counts = parseSeedArgs(args);
  } catch (error) {
    process.stderr.write(`db:seed: ${(error as Error).message}\n${HELP}`);
    process.exit(2);
  }
  main(counts).catch((error) => {
    const hint = (error as { code?: string }).code === '42P01' ? ' (run npm run db:migrate first)' : '';
    process.stderr.write(`db:seed failed: ${(error as Error).message}${hint}\n`);
    process.exit(1);
  });
}
