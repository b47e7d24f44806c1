import crypto from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Sql } from './sql';
import { isDatabaseUnavailable } from '../errors';
import { log } from '../log';

const RETRY_MS = 500;

/**
 * The secret behind cancel tokens: made by the first host that needs it, shared through the
 * database by all hosts. CANCEL_TOKEN_SECRET, when set, takes precedence.
 *
 * Asked again, every RETRY_MS, until the database answers: a worker reads it at start, after its
 * listener waited for the database and its connections opened (connectAll ignores failures), and a
 * connection lost or terminated under this one query (a database restarting just then) ended the
 * worker before it was ready; five such starts in a row end the whole server (src/primary.ts). Any
 * other error still ends the start.
 */
export async function cancelSecret(sql: Sql, configured: string): Promise<Buffer> {
  if (configured !== '') return Buffer.from(configured);
  for (;;) {
    try {
      return await readOrMakeSecret(sql);
    } catch (error) {
      if (!isDatabaseUnavailable(error)) throw error;
      log.warn('cannot read the cancel-token secret yet; retrying', { error });
      await sleep(RETRY_MS);
    }
  }
}

/**
 * Read first, written only when missing: a worker starting while the database refuses writes
 * (default_transaction_read_only, as for maintenance) met the INSERT's 25006 at every retry and
 * never listened, though the secret was there to read, and its reads could have been answered.
 */
async function readOrMakeSecret(sql: Sql): Promise<Buffer> {
  const stored = await readSecret(sql);
  if (stored !== undefined) return stored;
  const candidate = crypto.randomBytes(32).toString('base64');
  await sql`INSERT INTO roombook_settings (key, value) VALUES ('cancel_secret', ${candidate}) ON CONFLICT (key) DO NOTHING`;
  return (await readSecret(sql))!; // ours, or the one another host wrote first
}

async function readSecret(sql: Sql): Promise<Buffer | undefined> {
  const [row] = await sql`SELECT value FROM roombook_settings WHERE key = 'cancel_secret'`;
  return row === undefined ? undefined : Buffer.from(row.value as string, 'base64');
}
