import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import { type PostgresUser, binDirFor, ensurePostgresUser, readOrCreatePassword, resolveDataDir } from './embedded-paths';
import { lockStart } from './start-lock';
import { DEFAULT_MAX_CONNECTIONS } from './connection-budget';

/**
 * The PostgreSQL that roombook's primary process starts when no DATABASE_URL is given.
 * Layout: <dataDir>/pg is the cluster (owned by the user postgres runs as, 0700),
 * <dataDir>/db-password the superuser's generated password (0600, ours), reused on every start.
 */
export interface EmbeddedDatabase { url: string; dataDir: string; stop(): Promise<void> }
export interface EmbeddedOptions {
  dataDir: string;
  dataDirIsDefault: boolean;
  port: number; // 0: pick a free port on 127.0.0.1
  maxConnections?: number; // default DEFAULT_MAX_CONNECTIONS
  log: EmbeddedLog;
  /** Called when the server, once ready, exits without being asked to (killed, crashed). */
  onUnexpectedExit?: (how: string) => void;
}
/** Progress lines are 'info'; anything that needs an operator's eye comes without a level ('warn'). */
export type EmbeddedLog = (message: string, level?: 'debug' | 'info' | 'warn') => void;

const DATABASE = 'roombook';
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 8_000;

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const user = ensurePostgresUser();
  const binDir = binDirFor(user);
  const dataDir = resolveDataDir(user, options.dataDir, options.dataDirIsDefault, options.log);
  const unlock = lockStart(dataDir, isRunningNode);
  try {
    return await startCluster(binDir, user, dataDir, options);
  } finally {
    unlock();
  }
}

/** From the password to a server that answers, under the start lock: two of these at once on one cluster collide. */
async function startCluster(binDir: string, user: PostgresUser | undefined, dataDir: string, options: EmbeddedOptions,
): Promise<EmbeddedDatabase> {
  const cluster = path.join(dataDir, 'pg');
  const password = readOrCreatePassword(dataDir, cluster);
  await initClusterIfMissing(binDir, user, dataDir, cluster, password, options.log);
  refuseIfInUse(cluster, dataDir);
  await stopOrphanedPostmaster(cluster, options.log);
  const port = options.port || (await freePort());
  const started = Date.now();
  const server = spawnPostmaster(binDir, user, cluster, port, options.maxConnections ?? DEFAULT_MAX_CONNECTIONS, options.log,
    options.onUnexpectedExit);
  try {
    await waitUntilReadyWithDatabase(server, port, password);
  } catch (error) {
    await server.stop();
    throw error;
  }
  options.log(`embedded PostgreSQL ready on 127.0.0.1:${port} in ${Date.now() - started} ms (data in ${cluster})`, 'info');
  return { url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`, dataDir, stop: server.stop };
}

/** Spawn options that run a PostgreSQL binary as `user`, from a directory it can surely reach. */
const runAs = (user: PostgresUser | undefined) => ({ cwd: '/', ...(user && { uid: user.uid, gid: user.gid }) });

/** initdb into a staging folder renamed at the end, so a crash mid-initdb never leaves a half cluster as `pg`. */
async function initClusterIfMissing(
  binDir: string, user: PostgresUser | undefined, dataDir: string, cluster: string, password: string, log: EmbeddedLog,
): Promise<void> {
  if (fs.existsSync(path.join(cluster, 'PG_VERSION'))) return;
  if (fs.existsSync(cluster)) removeIfEmpty(cluster);
  const staging = path.join(dataDir, 'pg-initdb');
  const pwfile = path.join(dataDir, '.db-password-initdb');
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { mode: 0o700 }); // initdb cannot create it: dataDir belongs to us, not to postgres
  fs.writeFileSync(pwfile, password, { mode: 0o600 });
  if (user) for (const p of [staging, pwfile]) fs.chownSync(p, user.uid, user.gid);
  const started = Date.now();
  try {
    await runToCompletion(path.join(binDir, 'initdb'), user, [
      '-D', staging, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`,
      '--encoding=UTF8', '--locale=C', '--locale-provider=builtin', '--builtin-locale=C.UTF-8',
    ]);
  } finally {
    fs.rmSync(pwfile, { force: true });
  }
  fs.renameSync(staging, cluster);
  log(`embedded PostgreSQL: initialized a new cluster in ${cluster} in ${Date.now() - started} ms`, 'info');
}

/** An empty `pg` may go (initdb's staging takes its place); anything else in it is not ours to delete. */
function removeIfEmpty(cluster: string): void {
  try {
    fs.rmdirSync(cluster);
  } catch (error) {
    if (!['ENOTEMPTY', 'EEXIST', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code!)) throw error;
    throw new Error(`${cluster} is not a PostgreSQL data directory (it has no PG_VERSION), and not an empty directory either: `
      + 'roombook makes its cluster there and deletes nothing it did not make; move it away or empty it, or choose another DATA_DIR');
  }
}

function runToCompletion(file: string, user: PostgresUser | undefined, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...runAs(user), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${path.basename(file)} failed (exit ${code}):\n${output.trim()}`)));
  });
}

/**
 * After our process was SIGKILLed its postmaster lives on and holds the cluster; stop it fast.
 * A pid file whose process is gone (or is some other program now) is left to postgres, which ignores it.
 * Also used by the tests' global setup for the clusters of runs that were killed.
 */
export async function stopOrphanedPostmaster(cluster: string, log: EmbeddedLog): Promise<void> {
  const pid = livePostmaster(cluster);
  if (pid === undefined) return;
  log(`embedded PostgreSQL: stopping the postmaster (pid ${pid}) left running by a previous run`);
  await interruptAndWait(pid, () => !isAlive(pid) || !fs.existsSync(path.join(cluster, 'postmaster.pid')));
}

/**
 * A postmaster on this cluster whose parent is still a running Node.js process (a roombook primary,
 * or a test run) belongs to that process, not to a run that has gone: stopping it, as an orphan is,
 * would take the database from under a running service. An orphan's parent is init or a subreaper.
 */
function refuseIfInUse(cluster: string, dataDir: string): void {
  const pid = livePostmaster(cluster);
  if (pid === undefined) return;
  const parent = parentOf(pid);
  if (parent === undefined || parent === process.pid || !isRunningNode(parent)) return;
  throw new Error(`DATA_DIR ${dataDir} is in use: its PostgreSQL (pid ${pid}) belongs to a running process (pid ${parent}), `
    + 'another roombook presumably. Stop that one first, or give this one a DATA_DIR of its own.');
}

/** The pid of the postmaster running on this cluster, from its pid file; undefined if none runs. */
function livePostmaster(cluster: string): number | undefined {
  const pidFile = path.join(cluster, 'postmaster.pid');
  const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]) : 0;
  return pid && isAlive(pid) && runsOn(pid, cluster) ? pid : undefined;
}

/** The parent pid from /proc (Linux); undefined where there is none. */
function parentOf(pid: number): number | undefined {
  try { return Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]); } catch { return undefined; }
}

/** Whether `pid` runs and is a Node.js process (a roombook primary, or a test run). */
function isRunningNode(pid: number): boolean {
  try {
    return isAlive(pid) && /(^|\/)node[^/]*$/.test(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]);
  } catch {
    return false;
  }
}

/** Whether `pid` exists and may be signalled by us (a zombie counts, until its parent reaps it). */
export function isAlive(pid: number): boolean {
  try { return process.kill(pid, 0); } catch { return false; }
}

/** Whether `pid` was started with `-D cluster`; without procfs (not Linux) the pid file is trusted. */
function runsOn(pid: number, cluster: string): boolean {
  try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(cluster); } catch { return !fs.existsSync('/proc'); }
}

/** SIGINT is PostgreSQL's fast shutdown; after STOP_TIMEOUT_MS the whole process group gets SIGKILL. */
async function interruptAndWait(pid: number, hasExited: () => boolean): Promise<void> {
  try { process.kill(pid, 'SIGINT'); } catch { return; }
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (!hasExited()) {
    if (Date.now() > deadline) {
      try { process.kill(-pid, 'SIGKILL'); } catch { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
      return;
    }
    await sleep(25);
  }
}

/** Port 0: ask the kernel for a free port, then hand it to postgres (a tiny race we accept). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer().once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

interface Postmaster {
  child: ChildProcess;
  exit?: string; // how it ended, once it has
  exited: Promise<void>;
  ready: boolean; // after this, an exit we did not ask for is worth a log line
  stderrTail: string[];
  stop(): Promise<void>;
}

function spawnPostmaster(binDir: string, user: PostgresUser | undefined, cluster: string, port: number, maxConnections: number,
  log: EmbeddedLog, onUnexpectedExit?: (how: string) => void): Postmaster {
  const settings = [
    'listen_addresses=127.0.0.1', 'unix_socket_directories=', `max_connections=${maxConnections}`, 'shared_buffers=128MB',
    'jit=off', // compiling short OLTP queries costs more than it saves
  ];
  // detached: its own process group, so a terminal's Ctrl-C reaches only us and we shut it down gracefully.
  const child = spawn(path.join(binDir, 'postgres'), ['-D', cluster, '-p', String(port), ...settings.flatMap((s) => ['-c', s])],
    { ...runAs(user), detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stopping: Promise<void> | undefined;
  let markExited!: () => void;
  const server: Postmaster = {
    child, ready: false, stderrTail: [], exited: new Promise((resolve) => (markExited = resolve)),
    stop: () => (stopping ??= stopPostmaster(server)),
  };
  const stopOnExit = () => { if (!server.exit) try { process.kill(child.pid!, 'SIGINT'); } catch { /* gone */ } };
  process.on('exit', stopOnExit); // safety net: a plain process.exit() still shuts PostgreSQL down
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    for (const line of chunk.split('\n').filter(Boolean)) {
      server.stderrTail = [...server.stderrTail.slice(-19), line];
      // Our own readiness probes meet "starting up" (57P03) and try again: not worth a FATAL in the log.
      if (!server.ready && /FATAL: +the database system is starting up/.test(line)) continue;
      // An ERROR is one statement's failure, and roombook, its only client, answers or logs each one
      // itself (a name taken is a 409, not an event): debug. The rest concern the server: warn.
      const severity = /\b(WARNING|ERROR|FATAL|PANIC):/.exec(line)?.[1];
      if (severity) log(`embedded PostgreSQL: ${line}`, severity === 'ERROR' ? 'debug' : 'warn');
    }
  });
  const onExit = (how: string) => {
    if (server.exit) return;
    server.exit = how;
    process.off('exit', stopOnExit);
    markExited();
    if (server.ready && !stopping) {
      log(`embedded PostgreSQL exited unexpectedly (${how}):\n${server.stderrTail.join('\n')}`);
      onUnexpectedExit?.(how);
    }
  };
  child.on('error', (error) => onExit(error.message));
  child.on('exit', (code, signal) => onExit(signal ? `signal ${signal}` : `exit code ${code}`));
  // Our event loop need not wait for PostgreSQL: stop() is called on graceful shutdown.
  child.unref();
  (child.stderr as unknown as net.Socket).unref();
  return server;
}

async function stopPostmaster(server: Postmaster): Promise<void> {
  if (!server.exit && server.child.pid) await interruptAndWait(server.child.pid, () => server.exit !== undefined);
  await server.exited; // after a SIGKILL: the exit event is still to come
}

/** Ready means a query works (the TCP port opens before recovery ends); then make sure `roombook` exists. */
async function waitUntilReadyWithDatabase(server: Postmaster, port: number, password: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const failure = (what: string) => new Error(`embedded PostgreSQL ${what}; its last messages:\n${server.stderrTail.join('\n')}`);
  for (;;) {
    if (Date.now() > deadline) throw failure(`was not ready within ${READY_TIMEOUT_MS / 1000} s`);
    // Race its exit: something else may hold the port and answer (or hang) in its place.
    const outcome = await Promise.race([tryDatabase(port, password, deadline), server.exited.then(() => 'exited' as const)]);
    if (outcome === 'exited') throw failure(`exited before it was ready (${server.exit})`);
    if (outcome === 'ready') return void (server.ready = true);
    if (outcome instanceof Error) throw failure(`refused our connection: ${outcome.message}`);
    await sleep(50);
  }
}

/** Never rejects: a losing racer must not become an unhandled rejection. */
async function tryDatabase(port: number, password: string, deadline: number): Promise<'ready' | 'not yet' | Error> {
  if (!(await acceptsTcp(port))) return 'not yet';
  try {
    await ensureDatabase(port, password, Math.max(1, Math.ceil((deadline - Date.now()) / 1000)));
    return 'ready';
  } catch (error) {
    const code = (error as { code?: string }).code;
    return code === '57P03' || code === 'ECONNREFUSED' || code === 'ECONNRESET' ? 'not yet' : (error as Error);
  }
}

function acceptsTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

async function ensureDatabase(port: number, password: string, timeoutSeconds: number): Promise<void> {
  const sql = postgres({
    host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres',
    max: 1, connect_timeout: timeoutSeconds, onnotice: () => {},
  });
  try {
    const [exists] = await sql`select 1 from pg_database where datname = ${DATABASE}`;
    if (!exists) await sql.unsafe(`create database ${DATABASE}`).catch((e) => { if (e.code !== '42P04') throw e; });
  } finally {
    await sql.end({ timeout: 1 });
  }
}
