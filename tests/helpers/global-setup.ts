import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded';
import { markThisRun, removeLeftovers, scratchDir } from './leftover-clusters';

/**
 * Without DATABASE_URL the tests run against a throwaway embedded PostgreSQL under the OS temp
 * directory (as root, initdb runs as user postgres, who cannot reach a checkout under /root).
 */
declare global {
  // eslint-disable-next-line no-var
  var roombookTestDatabase: { server: EmbeddedDatabase; dir: string } | undefined;
}

export default async function globalSetup(): Promise<void> {
  // Every folder of the tests is named roombook-* (tests make theirs with scratchDir).
  for (const dir of await removeLeftovers('roombook-')) {
    process.stderr.write(`stopped the servers and PostgreSQL of a test run that did not finish, removed ${dir}\n`);
  }
  markThisRun();
  if (process.env.DATABASE_URL) return;
  const dir = scratchDir('roombook-test-');
  const server = await startEmbeddedPostgres({ dataDir: dir, dataDirIsDefault: false, port: 0, log: () => {} });
  const url = new URL(server.url);
  url.pathname = '/postgres';
  process.env.ROOMBOOK_TEST_SERVER_URL = url.toString();
  globalThis.roombookTestDatabase = { server, dir };
}
