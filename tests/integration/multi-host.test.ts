import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type postgres from 'postgres';
import { connect, createDatabase } from '../helpers/database';
import { MAIN, startServer, type RunningServer } from '../helpers/server';
import { dayFromToday, onNewConnection } from '../helpers/http';

/**
 * Several roombook hosts on ONE PostgreSQL database: each host is a roombook of its own (its own
 * primary, workers and port) and shares nothing with the others but DATABASE_URL. The stories:
 * both start at once on a fresh database, a room made on one is booked on the other, a rename
 * or delete on one is obeyed by the other, 200 clients on both race for one slot, and a bounded
 * load through one host and through two. docs/scaling.md quotes the figures printed at the end.
 * A second block runs the same stories with each host in a network namespace of its own.
 */
const ADMIN_TOKEN = 'multi-host-admin-token';
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };
const USER = 'multi-host-user';
const WORKERS = 2;
const MIGRATIONS = fs.readdirSync(path.resolve(__dirname, '../../sql')).filter((name) => /^\d+_.*\.sql$/.test(name)).sort();

interface Host {
  name: string;
  address: string; // what the API listens on
  port: number;
  logs(): string;
}

interface Answer {
  status: number;
  body: any;
}

const figures: Record<string, string> = {}; // printed once in afterAll, for docs/scaling.md

/** One request on a connection of its own, so that the kernel spreads them over the host's workers. */
function fresh(host: Host, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return onNewConnection(host.address, host.port, method, path, body, headers);
}

const book = (host: Host, roomName: string, date: string) => fresh(host, 'POST', '/book', { room_name: roomName, user_name: USER, date });
const bookAll = (host: Host, roomName: string, days: string[]) => Promise.all(days.map((date) => book(host, roomName, date)));
const days = (offset: number, count: number): string[] => Array.from({ length: count }, (_, i) => dayFromToday(offset + i));
const statuses = (answers: Answer[]): number[] => answers.map((answer) => answer.status);
const errorCodes = (answers: Answer[]): string[] => answers.map((answer) => answer.body?.error);

async function createRoom(host: Host, name: string): Promise<{ id: number; name: string }> {
  const created = await fresh(host, 'POST', '/rooms', { name }, ADMIN);
  expect(created.status).toBe(201);
  return created.body;
}

/** The rooms each worker of `host` has in its cache, from GET /ready on `samples` new connections. */
async function cachedRoomCounts(host: Host, samples = 16): Promise<number[]> {
  const answers = await Promise.all(Array.from({ length: samples }, () => fresh(host, 'GET', '/ready')));
  return answers.map((answer) => (answer.status === 200 ? answer.body.rooms : -answer.status));
}

/** Milliseconds until every worker of `host` has `rooms` rooms in its cache (the NOTIFY path). */
async function msUntilCached(host: Host, rooms: number, since: number, timeoutMs = 5000): Promise<number> {
  for (;;) {
    if ((await cachedRoomCounts(host)).every((count) => count === rooms)) return performance.now() - since;
    if (performance.now() - since > timeoutMs) throw new Error(`${host.name}: the cache did not reach ${rooms} rooms in ${timeoutMs} ms`);
  }
}

async function roomCount(sql: postgres.Sql): Promise<number> {
  const [{ count }] = await sql`SELECT count(*)::int AS count FROM rooms`;
  return count;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * The stories every multi-host setup must pass; `a` and `b` are two hosts on one database that
 * `sql` reaches directly. `label` keeps the figures of the two setups apart.
 */
function sharedDatabaseStories(label: string, context: () => { a: Host; b: Host; sql: postgres.Sql }) {
  test('both hosts started at the same moment on a fresh database: each migration applied once', async () => {
    const { a, b, sql } = context();
    const rows = await sql`SELECT version, count(*)::int AS times FROM schema_migrations GROUP BY version ORDER BY version`;
    expect(rows.map((row) => [row.version, row.times])).toEqual(MIGRATIONS.map((version) => [version, 1]));
    // The one that got the advisory lock first applied them; the other found them recorded.
    const appliers = [a, b].filter((host) => host.logs().includes('"message":"migrations applied"'));
    expect(appliers).toHaveLength(1);
    for (const host of [a, b]) expect(statuses(await Promise.all([fresh(host, 'GET', '/ready'), fresh(host, 'GET', '/ready')]))).toEqual([200, 200]);
    const secrets = await sql`SELECT value FROM roombook_settings WHERE key = 'cancel_secret'`;
    expect(secrets).toHaveLength(1); // one cancel-token secret, made by whichever host came first
    expect((await fresh(a, 'POST', '/users', { name: USER }, ADMIN)).status).toBe(201);
  });

  test('a room created through one host is booked at once through the other, both ways', async () => {
    const { a, b, sql } = context();
    for (const [maker, booker, name] of [[a, b, 'MADE-ON-A'], [b, a, 'MADE-ON-B']] as const) {
      const room = await createRoom(maker, name);
      const answers = await bookAll(booker, name.toLowerCase(), days(1, 40)); // no wait: a cache miss asks the database
      expect(statuses(answers)).toEqual(Array(40).fill(201));
      expect(answers.every((answer) => answer.body.room_id === room.id)).toBe(true);
      const [{ count }] = await sql`SELECT count(*)::int AS count FROM bookings WHERE room_id = ${room.id}`;
      expect(count).toBe(40);
    }
    // How long until the other host's workers have heard of a new room (NOTIFY, no request needed).
    const before = await roomCount(sql);
    await createRoom(a, 'HEARD-ON-B');
    figures[`${label}: NOTIFY of a room created on A reaches every worker of B`] = `${Math.round(await msUntilCached(b, before + 1, performance.now()))} ms`;
  });

  test('a rename through one host: the old name is refused through the other at once, the new one booked', async () => {
    const { a, b, sql } = context();
    const room = await createRoom(a, 'BEFORE-RENAME');
    expect(statuses(await bookAll(b, 'before-rename', days(1, 30)))).toEqual(Array(30).fill(201));
    await msUntilCached(b, await roomCount(sql), performance.now()); // every worker of B holds the old name

    const renamed = await fresh(a, 'PATCH', `/rooms/${room.id}`, { name: 'AFTER-RENAME' }, ADMIN);
    expect(renamed.status).toBe(200);
    const since = performance.now();
    const first = await book(b, 'before-rename', dayFromToday(31)); // the very next request, on the other host
    const firstMs = performance.now() - since;
    expect(first).toMatchObject({ status: 409, body: { error: 'room_not_found' } });
    const byOldName = await bookAll(b, 'before-rename', days(32, 30));
    expect(statuses(byOldName)).toEqual(Array(30).fill(409));
    expect(errorCodes(byOldName)).toEqual(Array(30).fill('room_not_found'));
    const byNewName = await bookAll(b, 'after-rename', days(31, 30));
    expect(statuses(byNewName)).toEqual(Array(30).fill(201));
    expect(byNewName.every((answer) => answer.body.room_id === room.id)).toBe(true);
    const [{ count }] = await sql`SELECT count(*)::int AS count FROM bookings WHERE room_id = ${room.id}`;
    expect(count).toBe(60);
    figures[`${label}: rename on A, then the old name booked on B`] = `409 room_not_found on the first request (${firstMs.toFixed(1)} ms after the rename's 200)`;

    // And the other way: B renames, A obeys.
    expect((await fresh(b, 'PATCH', `/rooms/${room.id}`, { name: 'RENAMED-BACK' }, ADMIN)).status).toBe(200);
    expect(await book(a, 'after-rename', dayFromToday(70))).toMatchObject({ status: 409, body: { error: 'room_not_found' } });
    expect((await book(a, 'renamed-back', dayFromToday(70))).status).toBe(201);
  });

  test('with the notify trigger off, the other host still books a new room and refuses a renamed one', async () => {
    const { a, b, sql } = context();
    const quiet = await createRoom(a, 'QUIET-OLD');
    expect(statuses(await bookAll(b, 'quiet-old', days(1, 20)))).toEqual(Array(20).fill(201));
    await msUntilCached(b, await roomCount(sql), performance.now()); // every worker of B holds QUIET-OLD

    await sql`ALTER TABLE rooms DISABLE TRIGGER rooms_notify`; // as a bulk loader would: nobody is told
    let unheard: { id: number };
    try {
      unheard = await createRoom(a, 'QUIET-NEW');
      expect((await fresh(a, 'PATCH', `/rooms/${quiet.id}`, { name: 'QUIET-RENAMED' }, ADMIN)).status).toBe(200);
    } finally {
      await sql`ALTER TABLE rooms ENABLE TRIGGER rooms_notify`;
    }
    const byNewRoom = await bookAll(b, 'quiet-new', days(1, 20));
    expect(statuses(byNewRoom)).toEqual(Array(20).fill(201));
    expect(byNewRoom.every((answer) => answer.body.room_id === unheard.id)).toBe(true);
    const byStaleName = await bookAll(b, 'quiet-old', days(21, 20)); // B's caches still map it to the room
    expect(statuses(byStaleName)).toEqual(Array(20).fill(409));
    expect(errorCodes(byStaleName)).toEqual(Array(20).fill('room_not_found'));
    const byRename = await bookAll(b, 'quiet-renamed', days(21, 20));
    expect(statuses(byRename)).toEqual(Array(20).fill(201));
    expect(byRename.every((answer) => answer.body.room_id === quiet.id)).toBe(true);

    // What a bulk loader sends afterwards (sql/002_notify.sql): every worker of every host reloads.
    await sql`SELECT pg_notify('roombook_names', '{"op":"reload"}')`;
    const rooms = await roomCount(sql);
    await Promise.all([a, b].map((host) => msUntilCached(host, rooms, performance.now())));
  });

  test('a delete through one host: the name is refused through the other at once', async () => {
    const { a, b, sql } = context();
    const room = await createRoom(b, 'DOOMED');
    expect(statuses(await bookAll(a, 'doomed', days(1, 30)))).toEqual(Array(30).fill(201));
    const rooms = await roomCount(sql);
    await msUntilCached(a, rooms, performance.now()); // every worker of A holds the name

    expect((await fresh(b, 'DELETE', `/rooms/${room.id}?cascade=true`, undefined, ADMIN)).status).toBe(204);
    const since = performance.now();
    expect(await book(a, 'doomed', dayFromToday(31))).toMatchObject({ status: 409, body: { error: 'room_not_found' } });
    figures[`${label}: NOTIFY of a delete on B reaches every worker of A`] = `${Math.round(await msUntilCached(a, rooms - 1, since))} ms (one booking request included)`;
    const afterDelete = await bookAll(a, 'doomed', days(32, 30));
    expect(statuses(afterDelete)).toEqual(Array(30).fill(409));
    expect(errorCodes(afterDelete)).toEqual(Array(30).fill('room_not_found'));
    expect((await fresh(a, 'GET', `/rooms/${room.id}`)).status).toBe(404);
    const [{ count }] = await sql`SELECT count(*)::int AS count FROM bookings WHERE room_id = ${room.id}`;
    expect(count).toBe(0);
  });

  test('200 clients booking one slot, spread over both hosts: exactly one 201 and one row', async () => {
    const { a, b, sql } = context();
    const room = await createRoom(a, 'CONTESTED');
    const day = dayFromToday(9);
    const hosts = Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? a : b));
    const answers = await Promise.all(hosts.map((host) => book(host, 'contested', day)));

    const winners = answers.flatMap((answer, i) => (answer.status === 201 ? [{ answer, host: hosts[i] }] : []));
    expect(winners).toHaveLength(1);
    const losers = answers.filter((answer) => answer.status !== 201);
    expect(statuses(losers)).toEqual(Array(199).fill(409));
    expect(errorCodes(losers)).toEqual(Array(199).fill('already_booked'));
    const rows = await sql`SELECT id::int AS id FROM bookings WHERE room_id = ${room.id} AND day = ${day}::date`;
    expect(rows.map((row) => row.id)).toEqual([winners[0].answer.body.id]);
    figures[`${label}: 200-way race for one slot (100 per host)`] = `1 × 201 (won through ${winners[0].host.name}), 199 × 409 already_booked, 1 row`;

    // The winner's cancel token works on the other host: the secret is shared through the database.
    const other = winners[0].host === a ? b : a;
    const { id, cancel_token: token } = winners[0].answer.body;
    expect((await fresh(other, 'DELETE', `/bookings/${id}`, undefined, { 'x-cancel-token': token })).status).toBe(204);
    expect((await book(other, 'contested', day)).status).toBe(201);
  });
}

describe('two hosts on one database (loopback, separate ports)', () => {
  let database: Awaited<ReturnType<typeof createDatabase>>;
  let sql: postgres.Sql;
  const servers: RunningServer[] = [];
  let a: Host;
  let b: Host;

  /** `count` roombooks started at the same moment; every one that started is stopped in afterAll. */
  async function startHosts(count: number, workers: number, names: string): Promise<Host[]> {
    const env = { ADMIN_TOKEN, METRICS_PORT: '0' }; // the default metrics port would be taken by the first host
    const started = await Promise.allSettled(Array.from({ length: count }, () => startServer({ databaseUrl: database.url, workers, env })));
    started.forEach((result) => result.status === 'fulfilled' && servers.push(result.value));
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return started.map((result, i) => {
      const server = (result as PromiseFulfilledResult<RunningServer>).value;
      return { name: names[i], address: '127.0.0.1', port: server.port, logs: server.logs };
    });
  }

  beforeAll(async () => {
    database = await createDatabase();
    sql = connect(database.url);
    [a, b] = await startHosts(2, WORKERS, 'AB');
    expect(a.port).not.toBe(b.port);
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()));
    await sql?.end();
    await database?.drop();
  });

  sharedDatabaseStories('loopback', () => ({ a, b, sql }));

  test('bounded load: bookings per second through one host, through two, and the connections they hold', async () => {
    const rooms = Array.from({ length: 20 }, (_, i) => `LOAD-${i + 1}`);
    await Promise.all(rooms.map((name) => createRoom(a, name)));
    let next = 0; // every booking its own (room, day): the figure is decisions, not conflicts
    const slot = () => { const k = next++; return { room_name: rooms[k % rooms.length], user_name: USER, date: dayFromToday(200 + Math.floor(k / rooms.length)) }; };
    const CONNECTIONS = 32;
    const SECONDS = 1;
    const [c, d] = await startHosts(2, 1, 'CD'); // the same two workers as one host, as two hosts

    let booked = (await load([a, b, c, d], SECONDS, CONNECTIONS, slot)).booked; // warm-up, figure discarded
    const runs = { 'one host, 2 workers': [a], 'two hosts, 2 workers each': [a, b], 'two hosts, 1 worker each': [c, d] };
    const rates = new Map<string, number[]>(Object.keys(runs).map((name) => [name, []]));
    const loadBefore = os.loadavg()[0];
    for (let round = 0; round < 3; round++) {
      for (const [name, hosts] of Object.entries(runs)) {
        const run = await load(hosts, SECONDS, CONNECTIONS, slot);
        rates.get(name)!.push(run.rate);
        booked += run.booked;
      }
    }
    // Every 201 is a row; requests still in flight when a run stopped may have added a few more.
    const [{ count }] = await sql`SELECT count(*)::int AS count FROM bookings b JOIN rooms r ON r.id = b.room_id WHERE r.name LIKE 'LOAD-%'`;
    expect(count).toBeGreaterThanOrEqual(booked);
    expect(count).toBeLessThanOrEqual(next);
    for (const [name, list] of rates) {
      figures[`loopback: bookings/s, ${name}`] = `median ${Math.round(median(list))}/s (runs: ${list.map(Math.round).join(', ')})`;
    }
    figures['loopback: load setup'] = `3 runs of ${SECONDS} s each, ${CONNECTIONS} keep-alive connections split over the hosts, `
      + `autocannon in the test process, every booking a distinct (room, day); 1-minute load average ${loadBefore.toFixed(1)} when it began`;

    // The connection budget, as held after the load: each worker's pool for reads (at most DB_POOL_SIZE),
    // its booking connections (at most BATCH_MAX_IN_FLIGHT) and its listener.
    const workers = 2 * WORKERS + 2 * 1;
    const connectionsHeld = () => sql`SELECT application_name AS name, count(*)::int AS count FROM pg_stat_activity
      WHERE datname = current_database() AND application_name LIKE 'roombook%' GROUP BY 1 ORDER BY 1`;
    let held = await connectionsHeld();
    const listeners = () => held.find((row) => row.name === 'roombook-listener')?.count;
    // A listener that missed its ping on this busy machine is being replaced: give it a moment.
    for (const deadline = Date.now() + 5000; listeners() !== workers && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      held = await connectionsHeld();
    }
    // Every worker reads its cancel secret through its pool at start, so each kind is there.
    expect(held.map((row) => row.name)).toEqual(['roombook', 'roombook-bookings', 'roombook-listener']);
    const [pool, bookings] = [held[0].count, held[1].count];
    expect(listeners()).toBe(workers);
    expect(pool).toBeLessThanOrEqual(workers * 2);
    expect(bookings).toBeLessThanOrEqual(workers * 1);
    figures['loopback: connections held by 4 hosts (6 workers, defaults DB_POOL_SIZE=2, BATCH_MAX_IN_FLIGHT=1)'] =
      `${pool} pool + ${bookings} booking + ${listeners()} listener = ${pool + bookings + listeners()!} (budget 6 × (2 + 1 + 1) = 24)`;
  });
});

type Slot = () => { room_name: string; user_name: string; date: string };

interface LoadResult {
  '2xx': number;
  non2xx: number;
  errors: number;
  duration: number; // seconds, measured by autocannon
}

/**
 * POST /book for `seconds` over `connections` keep-alive connections, split evenly over `hosts`
 * (autocannon, in this process); every answer must be a 201. Bounded by time, not by count, so
 * that a busy machine makes the figure smaller, not the test longer. Returns bookings per second.
 */
async function load(hosts: Host[], seconds: number, connections: number, slot: Slot): Promise<{ rate: number; booked: number }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const autocannon = require('autocannon') as (options: object, done: (error: Error | null, result: LoadResult) => void) => unknown;
  const results = await Promise.all(hosts.map((host) => new Promise<LoadResult>((resolve, reject) => {
    autocannon({
      url: `http://${host.address}:${host.port}`,
      connections: connections / hosts.length,
      duration: seconds,
      requests: [{
        method: 'POST', path: '/book', headers: { 'content-type': 'application/json' },
        setupRequest: (request: object) => ({ ...request, body: JSON.stringify(slot()) }),
      }],
    }, (error, result) => (error ? reject(error) : resolve(result)));
  })));
  expect(results.map((result) => [result.non2xx, result.errors])).toEqual(hosts.map(() => [0, 0]));
  const booked = results.reduce((sum, result) => sum + result['2xx'], 0);
  return { rate: booked / Math.max(...results.map((result) => result.duration)), booked };
}

/* ---------------------------------------------------------------------------------------------
 * Each host in a network namespace of its own, on a private network this file makes and removes:
 * a bridge in the root namespace holding 10.200.N.1, one veth per namespace (10.200.N.11, .12).
 * PostgreSQL (embedded or local) listens on 127.0.0.1 only, so a TCP relay in this process
 * listens on 10.200.N.1 and forwards to it: the hosts reach the database only over the new network.
 * ------------------------------------------------------------------------------------------- */

function namespacesUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root';
  const probe = `rbmh-probe-${process.pid}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' });
  } catch (error) {
    return `\`ip netns add\` failed (${String((error as { stderr?: Buffer }).stderr ?? error).trim()})`;
  }
  return undefined;
}

/** A third octet whose 10.200.N.0/24 nothing on this machine uses yet. */
function freeSubnet(): number | undefined {
  const inUse = execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' }) + execFileSync('ip', ['-4', 'addr'], { encoding: 'utf8' });
  for (let i = 0; i < 250; i++) {
    const octet = ((process.pid + i) % 250) + 1;
    if (!inUse.includes(`10.200.${octet}.`)) return octet;
  }
  return undefined;
}

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8', stdio: 'pipe' });

class PrivateNetwork {
  readonly bridge = `rbbr${process.pid}`;
  readonly namespaces = [`rbmh-${process.pid}-a`, `rbmh-${process.pid}-b`];
  readonly gateway: string;
  readonly addresses: string[];
  private readonly made: (() => void)[] = []; // undo steps, newest first

  constructor(readonly octet: number) {
    this.gateway = `10.200.${octet}.1`;
    this.addresses = [`10.200.${octet}.11`, `10.200.${octet}.12`];
  }

  create(): void {
    ip('link', 'add', this.bridge, 'type', 'bridge');
    this.made.unshift(() => ip('link', 'del', this.bridge));
    ip('addr', 'add', `${this.gateway}/24`, 'dev', this.bridge);
    ip('link', 'set', this.bridge, 'up');
    this.namespaces.forEach((ns, i) => {
      const [outside, inside] = [`rbv${'ab'[i]}${process.pid}`, `rbn${'ab'[i]}${process.pid}`];
      ip('netns', 'add', ns);
      this.made.unshift(() => ip('netns', 'del', ns)); // takes the veth pair with it
      ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', inside);
      this.made.unshift(() => { try { ip('link', 'del', outside); } catch { /* gone with its namespace */ } });
      ip('link', 'set', inside, 'netns', ns);
      ip('link', 'set', outside, 'master', this.bridge, 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'addr', 'add', `${this.addresses[i]}/24`, 'dev', inside);
      ip('-n', ns, 'link', 'set', inside, 'up');
    });
  }

  /** Undoes every step made, even after a failure half-way; reports what could not be undone. */
  destroy(): string[] {
    const problems: string[] = [];
    for (const undo of this.made.splice(0)) {
      try { undo(); } catch (error) { problems.push(String((error as { stderr?: Buffer }).stderr ?? error).trim()); }
    }
    return problems;
  }
}

/** Forwards TCP from `listenHost` to PostgreSQL, and remembers who connected. */
class Relay {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  readonly peers = new Set<string>();

  constructor(target: { host: string; port: number }) {
    this.server = net.createServer((client) => {
      this.peers.add(client.remoteAddress ?? '?');
      const upstream = net.connect(target.port, target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('error', () => { client.destroy(); upstream.destroy(); });
        socket.on('close', () => { this.sockets.delete(socket); client.destroy(); upstream.destroy(); });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  listen(host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, host, () => resolve((this.server.address() as net.AddressInfo).port));
    });
  }

  close(): Promise<void> {
    this.sockets.forEach((socket) => socket.destroy());
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** dist/src/main.js inside `ns`, with the environment tests/helpers/server.ts gives it. */
async function startInNamespace(ns: string, env: Record<string, string>): Promise<{ child: ChildProcess; port: number; logs: () => string }> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, MAIN], {
    env: { ...process.env, LOG_LEVEL: 'info', PORT: '0', WORKERS: String(WORKERS), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${ns}: server did not start in 30 s:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"message":"roombook listening".*?"port":(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${ns}: server exited with ${code} before listening:\n${output}`)); });
  });
  return { child, port, logs: () => output };
}

/** SIGTERM, then SIGKILL if it has not exited after `graceMs`; only the process this file started. */
function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    child.kill('SIGTERM');
  });
}

const unavailable = namespacesUnavailable();
const octet = unavailable ? undefined : freeSubnet();
const skipReason = unavailable ?? (octet === undefined ? 'no free 10.200.N.0/24 subnet' : undefined);
if (skipReason) {
  // eslint-disable-next-line no-console
  console.warn(`multi-host: SKIPPING the network-namespace variant: ${skipReason}. It needs Linux, root and iproute2 (\`ip netns\`).`);
}

(skipReason ? describe.skip : describe)('two hosts in network namespaces of their own, one database over a private network', () => {
  const network = new PrivateNetwork(octet ?? 0);
  let database: Awaited<ReturnType<typeof createDatabase>>;
  let sql: postgres.Sql;
  let relay: Relay | undefined;
  const children: ChildProcess[] = [];
  let a: Host;
  let b: Host;

  beforeAll(async () => {
    network.create();
    database = await createDatabase();
    sql = connect(database.url);
    const direct = new URL(database.url);
    relay = new Relay({ host: direct.hostname, port: Number(direct.port || 5432) });
    const viaNetwork = new URL(database.url);
    viaNetwork.hostname = network.gateway;
    viaNetwork.port = String(await relay.listen(network.gateway));
    const started = await Promise.allSettled(network.namespaces.map((ns, i) => startInNamespace(ns, {
      HOST: network.addresses[i], DATABASE_URL: viaNetwork.toString(), ADMIN_TOKEN, METRICS_PORT: '0',
    })));
    started.forEach((result) => result.status === 'fulfilled' && children.push(result.value.child));
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    [a, b] = started.map((result, i) => {
      const { port, logs } = (result as PromiseFulfilledResult<Awaited<ReturnType<typeof startInNamespace>>>).value;
      return { name: 'AB'[i], address: network.addresses[i], port, logs };
    });
  });
  afterAll(async () => {
    try {
      await Promise.all(children.map((child) => stopChild(child)));
      await relay?.close();
      await sql?.end();
      await database?.drop();
    } finally {
      const problems = network.destroy();
      if (problems.length) throw new Error(`network cleanup left something behind: ${problems.join('; ')}`);
    }
  });

  test('each host listens on its own namespace address and reaches PostgreSQL over the private network', async () => {
    for (const host of [a, b]) expect(host.logs()).toContain(`"url":"http://${host.address}:${host.port}"`);
    expect([...relay!.peers].sort()).toEqual([...network.addresses].sort());
    for (const ns of network.namespaces) expect(ip('netns', 'list')).toContain(ns);
  });

  sharedDatabaseStories('namespaces', () => ({ a, b, sql }));
});

afterAll(() => {
  const lines = Object.entries(figures).map(([what, value]) => `  ${what}: ${value}`);
  // eslint-disable-next-line no-console
  if (lines.length) console.log(`multi-host figures (${WORKERS} workers per host; this machine: ${os.availableParallelism()} cores)\n${lines.join('\n')}`);
});
