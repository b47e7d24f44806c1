import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isAlive, stopOrphanedPostmaster } from '../../src/db/embedded';

/**
 * A test run stopped before its global teardown (jest killed, or interrupted: teardown does not run
 * then) leaves its embedded PostgreSQL clusters in folders under the temp directory, and the
 * roombook servers its tests had started, still running. Each run marks itself in
 * ROOMBOOK_TEST_RUN, which every process it starts inherits (tests/helpers/server.ts passes the
 * environment on), and writes its pid into every folder it makes (scratchDir); a later run stops
 * the processes of runs that have gone, and their PostgreSQL, and removes their folders. Folders
 * without that file, and everything of runs still going, are left alone.
 */
const OWNER_FILE = 'owner.pid';
const RUN_VARIABLE = 'ROOMBOOK_TEST_RUN';
const STOP_WAIT_MS = 10_000;

/** Marks every process started from here on, and every scratchDir made, as this run's. */
export function markThisRun(): void {
  process.env[RUN_VARIABLE] = String(process.pid);
}

/**
 * A new folder `tempDir/prefix*` that user postgres can traverse (as root, initdb and PostgreSQL run
 * as that user), owned by the run in progress when there is one, to be removed if it is killed.
 */
export function scratchDir(prefix: string, tempDir = os.tmpdir()): string {
  const dir = fs.mkdtempSync(path.join(tempDir, prefix));
  fs.chmodSync(dir, 0o755);
  const run = process.env[RUN_VARIABLE];
  if (run) fs.writeFileSync(path.join(dir, OWNER_FILE), run);
  return dir;
}

/** Folders `tempDir/prefix*` of runs that have gone: their servers and PostgreSQL stopped, the folder removed. */
export async function removeLeftovers(prefix: string, tempDir = os.tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  for (const name of fs.readdirSync(tempDir)) {
    if (!name.startsWith(prefix)) continue;
    const dir = path.join(tempDir, name);
    const owner = ownerOf(dir);
    if (owner === undefined || isAlive(owner)) continue;
    await stopProcessesOfRun(owner);
    for (const cluster of clustersIn(dir)) await stopOrphanedPostmaster(cluster, () => {});
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    removed.push(dir);
  }
  return removed;
}

/** The clusters in a run's folder: `pg` beside the owner file, or one level down (DATA_DIR/pg). */
function clustersIn(dir: string): string[] {
  const below = fs.readdirSync(dir, { withFileTypes: true }).filter((entry) => entry.isDirectory());
  return [path.join(dir, 'pg'), ...below.map((entry) => path.join(dir, entry.name, 'pg'))];
}

/** SIGTERM (a roombook primary's graceful stop) to every process the run started, SIGKILL to those left after 10 s. */
async function stopProcessesOfRun(owner: number): Promise<void> {
  const mark = `${RUN_VARIABLE}=${owner}`;
  const pids = processIds().filter((pid) => environmentOf(pid).includes(mark));
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + STOP_WAIT_MS;
  while (pids.some(isAlive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  for (const pid of pids.filter(isAlive)) signal(pid, 'SIGKILL');
}

/** Without procfs (not Linux) no process can be traced to its run: none is stopped. */
function processIds(): number[] {
  try {
    return fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number);
  } catch {
    return [];
  }
}

function environmentOf(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
  } catch {
    return []; // gone, or not ours to read
  }
}

function ownerOf(dir: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(dir, OWNER_FILE), 'utf8'));
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    /* gone already */
  }
}
