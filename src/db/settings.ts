import crypto from 'node:crypto';
import type { Sql } from './sql';

/**
 * The secret behind cancel tokens: made by the first host that needs it, shared through the
 * database by all hosts. CANCEL_TOKEN_SECRET, when set, takes precedence.
 */
export async function cancelSecret(sql: Sql, configured: string): Promise<Buffer> {
  if (configured !== '') return Buffer.from(configured);
  const candidate = crypto.randomBytes(32).toString('base64');
  await sql`INSERT INTO roombook_settings (key, value) VALUES ('cancel_secret', ${candidate}) ON CONFLICT (key) DO NOTHING`;
  const [row] = await sql`SELECT value FROM roombook_settings WHERE key = 'cancel_secret'`;
  return Buffer.from(row.value as string, 'base64');
}
