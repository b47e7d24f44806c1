import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded';

/**
 * Without DATABASE_URL the tests run against a throwaway embedded PostgreSQL under the OS temp
 * directory (as root, initdb runs as user postgres, who cannot reach a checkout under /root).
 */
declare global {
  // eslint-disable-next-line no-var
  var roombookTestDatabase: { server: EmbeddedDatabase; dir: string } | undefined;
}

export default async function globalSetup(): Promise<void> {
  if (process.env.DATABASE_URL) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roombook-test-'));
  fs.chmodSync(dir, 0o755);
  const server = await startEmbeddedPostgres({ dataDir: dir, dataDirIsDefault: false, port: 0, log: () => {} });
  const url = new URL(server.url);
  url.pathname = '/postgres';
  process.env.ROOMBOOK_TEST_SERVER_URL = url.toString();
  globalThis.roombookTestDatabase = { server, dir };
}
