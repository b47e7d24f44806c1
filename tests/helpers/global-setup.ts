import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded';
import { claimForThisRun, removeLeftovers } from './leftover-clusters';

const TEST_CLUSTER_PREFIX = 'roombook-test-';

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
  for (const dir of await removeLeftovers(TEST_CLUSTER_PREFIX)) {
    process.stderr.write(`stopped the servers and PostgreSQL of a test run that did not finish, removed ${dir}\n`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), TEST_CLUSTER_PREFIX));
  claimForThisRun(dir);
  fs.chmodSync(dir, 0o755);
  const server = await startEmbeddedPostgres({ dataDir: dir, dataDirIsDefault: false, port: 0, log: () => {} });
  const url = new URL(server.url);
  url.pathname = '/postgres';
  process.env.ROOMBOOK_TEST_SERVER_URL = url.toString();
  globalThis.roombookTestDatabase = { server, dir };
}
