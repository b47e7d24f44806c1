import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { isAlive, startEmbeddedPostgres } from '../../src/db/embedded';
import { markThisRun, removeLeftovers, scratchDir } from '../helpers/leftover-clusters';
import { waitFor } from '../helpers/wait';

/**
 * The tests' global setup stops what earlier runs left running when they never reached their
 * teardown, and removes their folders (tests/helpers/leftover-clusters.ts); here in a temp folder
 * of this test's own, with a stand-in for a server such a run had started.
 */
jest.setTimeout(60_000);

let parent: string;

beforeAll(() => {
  parent = fs.mkdtempSync(path.join(os.tmpdir(), 'roombook-leftover-'));
  fs.chmodSync(parent, 0o755); // as root, PostgreSQL runs as user postgres, who must traverse it
});
afterAll(() => fs.rmSync(parent, { recursive: true, force: true }));

function folder(name: string): string {
  const dir = path.join(parent, name);
  fs.mkdirSync(dir, { mode: 0o755 });
  return dir;
}

/** A process that runs until stopped, marked as started by the test run `run`. */
const serverOf = (run: string) => spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'],
  { env: { ...process.env, ROOMBOOK_TEST_RUN: run }, stdio: 'ignore' });

test('what a run that has gone left is stopped and removed; everything else is left alone', async () => {
  const gone = String(spawnSync(process.execPath, ['-e', '']).pid); // a pid whose process has ended
  const ownRunBefore = process.env.ROOMBOOK_TEST_RUN;
  process.env.ROOMBOOK_TEST_RUN = gone; // the run that made this folder and started its PostgreSQL
  const killed = scratchDir('run-killed', parent);
  const dataDir = path.join(killed, 'data'); // a test's own cluster, one level down (DATA_DIR/pg)
  await startEmbeddedPostgres({ dataDir, dataDirIsDefault: false, port: 0, log: () => {} });
  const postmaster = Number(fs.readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
  const orphan = serverOf(gone);
  markThisRun(); // this process: a run still going
  const running = scratchDir('run-running', parent);
  const sibling = serverOf(String(process.pid));
  const unowned = folder('run-unowned'); // no owner file: not known to be a test run's
  const elsewhere = folder('other-killed');
  fs.writeFileSync(path.join(elsewhere, 'owner.pid'), gone); // another prefix
  try {
    expect([isAlive(postmaster), isAlive(orphan.pid!)]).toEqual([true, true]);
    expect(await removeLeftovers('run-', parent)).toEqual([killed]);
    // This process started both, so it reaps them, a moment after they exit (a killed run's are not ours).
    await waitFor('the postmaster and the orphan to be gone', () => !isAlive(postmaster) && !isAlive(orphan.pid!), 5000);
    expect(fs.existsSync(killed)).toBe(false);
    for (const kept of [running, unowned, elsewhere]) expect(fs.existsSync(kept)).toBe(true);
    expect(isAlive(sibling.pid!)).toBe(true);
  } finally {
    orphan.kill('SIGKILL');
    sibling.kill('SIGKILL');
    if (ownRunBefore === undefined) delete process.env.ROOMBOOK_TEST_RUN;
    else process.env.ROOMBOOK_TEST_RUN = ownRunBefore;
  }
});
