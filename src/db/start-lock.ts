import fs from 'node:fs';
import path from 'node:path';

/**
 * One start at a time on a DATA_DIR. Until the postmaster has written its postmaster.pid, nothing
 * shows that a start is under way, and two first starts at once both write db-password and run
 * initdb into the same staging folder: both failed with raw initdb or EEXIST errors. The first to
 * create DATA_DIR/start.lock (holding its pid) goes on; a second is refused like refuseIfInUse's.
 * The lock is held only while PostgreSQL starts: from then on its postmaster.pid says who owns the
 * data, and refuseIfInUse reads that. A lock whose pid no longer runs roombook (a start killed
 * midway) is stale and taken over.
 */
const LOCK_FILE = 'start.lock';

/**
 * Takes the lock or throws; returns its release. `runsRoombook(pid)`: whether pid may be a live
 * holder. `pid`: whom the lock names (process.pid; another only where a test plays two starts).
 */
export function lockStart(dataDir: string, runsRoombook: (pid: number) => boolean, pid = process.pid): () => void {
  const lock = path.join(dataDir, LOCK_FILE);
  const mine = `${lock}.${pid}`;
  // Written whole, then linked in: link fails if the lock exists (like O_EXCL), and a reader never
  // sees the lock without its pid, as it could between an open('wx') and its write.
  fs.writeFileSync(mine, `${pid}\n`);
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        fs.linkSync(mine, lock);
        return () => { if (holderOf(lock) === pid) fs.rmSync(lock, { force: true }); };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = holderOf(lock);
      // Our own pid is stale too: a container's primary is pid 1 on every start.
      if (holder !== undefined && holder !== pid && runsRoombook(holder)) throw inUse(dataDir, holder, lock);
      removeIfStill(lock, holder, pid);
    }
    throw inUse(dataDir, holderOf(lock), lock); // other starts kept taking the stale lock just before us
  } finally {
    fs.rmSync(mine, { force: true });
  }
}

/**
 * Removes the lock judged stale, and only that one. Another start may have taken the stale lock
 * over since it was read: a plain rm would then delete that start's fresh lock, and both would go
 * on (the race this closes). The lock is moved aside first (rename is atomic: one mover gets it),
 * then read again: a lock that is not the one judged goes back, and the next attempt reads its holder.
 */
function removeIfStill(lock: string, judged: number | undefined, pid: number): void {
  const aside = `${lock}.stale.${pid}`;
  try {
    fs.renameSync(lock, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // removed by another start meanwhile
    throw error;
  }
  try {
    if (holderOf(aside) !== judged) fs.linkSync(aside, lock);
  } catch (error) {
    // EEXIST: a third start took the name while the lock was aside. The start whose lock it was then
    // goes on beside it: three starts at once on a stale lock, a race this leaves open.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    fs.rmSync(aside, { force: true });
  }
}

function holderOf(lock: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(lock, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

const inUse = (dataDir: string, holder: number | undefined, lock: string) =>
  new Error(`DATA_DIR ${dataDir} is in use: another roombook (pid ${holder ?? 'unknown'}) is starting on it (${lock}). `
    + 'Stop that one first, or give this one a DATA_DIR of its own.');
