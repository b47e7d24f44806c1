import crypto from 'node:crypto';
import postgres from 'postgres';
import { closePool, type Sql } from './sql';
import type { ExistenceCache, NameChange, NameIndex } from '../domain/existence';
import type { NamedRepository } from './named';
import { log } from '../log';
import { withDeadline } from './deadline';
import { readNameNotification } from './name-notification';

export const NAMES_CHANNEL = 'roombook_names';

/**
 * Makes an index hold exactly the table's names, updating it in place page by page; returns how many
 * there are. More entries than names afterwards means names deleted while no notification came (a
 * bulk delete with the triggers off, say): a second read tells which, and only then is a set of
 * every name built.
 */
export async function reloadIndex(repository: NamedRepository, index: NameIndex, run: { abandoned: boolean },
  progress: () => void, pageRows?: number): Promise<number> {
  if (run.abandoned) return 0; // the rooms' read outlived the deadline: the users' is not started
  /** Every page moves the deadline on; once the run is abandoned, no page is used and the read stops. */
  const read = (use: (rows: readonly (readonly [number, string])[]) => void) => repository.eachPage((rows) => {
    progress();
    if (!run.abandoned) use(rows);
    return !run.abandoned;
  }, pageRows);
  const count = await read((rows) => index.setRows(rows));
  if (index.size === count || run.abandoned) return count;
  const current = new Set<string>();
  await read((rows) => { for (const [, name] of rows) current.add(name); });
  if (!run.abandoned) index.keepOnly(current);
  return count;
}

/**
 * Keeps one worker's existence cache current. Notifications sent while the LISTEN connection is
 * down are lost, so every (re)subscribe reloads the whole cache. postgres.js re-subscribes after
 * a drop, but gives up silently if the database is unreachable at that moment, and a silent
 * network drop is not noticed at all; so a periodic ping (a NOTIFY sent through the pool that
 * must come back on the LISTEN connection) proves the listener alive, and a new listener replaces
 * one that fails it.
 */
export class NameListener {
  private listenSql: postgres.Sql | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private pendingPing: { token: string; arrived: () => void } | undefined;
  private buffered: NameChange[] | undefined; // changes that arrive during a reload
  private reloadNeeded = false;
  private stopped = false;
  private lastReload: Promise<void> | undefined;
  private checking = false; // one check at a time, its reconnect included
  reloads = 0;

  constructor(
    private readonly url: string,
    private readonly pool: Sql,
    private readonly cache: ExistenceCache,
    private readonly repositories: { room: NamedRepository; user: NamedRepository },
    private readonly checkEveryMs: number,
    /** A call through the pool failed or missed its deadline: the worker renews the pool (src/db/sql.ts). */
    private readonly poolTrouble: () => unknown = () => undefined,
  ) {}

  /** Subscribes and loads the cache; retries until the database answers. */
  async start(): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.listenSql) await this.reload();
        else {
          await this.subscribe();
          await this.lastReload; // started by the subscription's onListen callback
        }
        if (this.cache.loaded) break;
      } catch (error) {
        log.warn('listener cannot subscribe yet; retrying', { error });
        await this.closeListenConnection();
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    this.checkTimer = setInterval(() => void this.check(), this.checkEveryMs);
    this.checkTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.checkTimer);
    await this.closeListenConnection();
  }

  private async subscribe(): Promise<void> {
    this.listenSql = postgres(this.url, {
      max: 1, idle_timeout: 0, max_lifetime: null, connect_timeout: 3, onnotice: () => {},
      connection: { application_name: 'roombook-listener' },
    });
    await withDeadline(this.listenSql.listen(NAMES_CHANNEL, (payload) => this.onNotify(payload), () => {
      this.lastReload = this.reload();
    }), 'LISTEN');
  }

  private async closeListenConnection(): Promise<void> {
    const old = this.listenSql;
    this.listenSql = undefined;
    if (old) await closePool(old, 0); // bounded: an end() that never settled once froze every later check
  }

  private onNotify(payload: string): void {
    const message = readNameNotification(payload);
    if (!message) {
      log.warn('notification not understood; ignored', { payload });
    } else if (message.op === 'ping') {
      if (this.pendingPing?.token === message.token) this.pendingPing.arrived();
    } else if (message.op === 'reload') {
      void this.reload();
    } else if (this.buffered) {
      this.buffered.push(message);
    } else {
      this.cache.apply(message);
    }
  }

  /** Replaces the cache from the tables; changes notified meanwhile are applied after, in order. */
  async reload(): Promise<void> {
    if (this.buffered) {
      this.reloadNeeded = true; // one is running; run again once it ends, to see later changes
      return;
    }
    this.buffered = [];
    this.reloadNeeded = false;
    let failed = false;
    const run = { abandoned: false }; // past its deadline: pages still arriving are not applied
    try {
      // One table after the other, not both at once: a cursor holds its read connection for the
      // whole read (seconds for 1,000,000 names), and two took both of the default pool's, so every
      // other read queued behind the reload, /ready's SELECT 1 among them, which answered 503
      // db_unavailable past its 1 s deadline although the database was fine. One at a time leaves
      // DB_POOL_SIZE - 1 read connections to the rest at no cost in connections (a connection of
      // its own would break the budget, src/db/connection-budget.ts); with DB_POOL_SIZE=1 the reload
      // still holds the only one. The worker's one thread parses every row either way: 500,000
      // rooms and 500,000 users reloaded in 1.2-2.5 s against 1.2-1.9 s (1 worker), 1.8-5.3 s
      // against 2.7-5.2 s (2 workers) on the busy 2-core development machine.
      const [rooms, users] = await withDeadline(async (progress) => {
        const roomCount = await reloadIndex(this.repositories.room, this.cache.rooms, run, progress);
        return [roomCount, await reloadIndex(this.repositories.user, this.cache.users, run, progress)];
      }, 'cache reload');
      this.buffered.forEach((change) => this.cache.apply(change));
      this.cache.loaded = true;
      this.reloads++;
      log.debug('existence cache loaded', { rooms, users });
    } catch (error) {
      run.abandoned = true;
      failed = true;
      log.warn('existence cache reload failed', { error });
      this.poolTrouble();
    } finally {
      this.buffered = undefined;
    }
    if (failed) this.reloadNeeded = true; // the next check tries again
    else if (this.reloadNeeded && !this.stopped) await this.reload();
  }

  /**
   * Checks never overlap: a check started while another re-subscribes would send its ping before
   * the new LISTEN, miss it, re-subscribe in turn, and so on every second (seen after an outage).
   */
  private async check(): Promise<void> {
    if (this.stopped || this.checking) return;
    this.checking = true;
    try {
      await this.checkOnce();
    } finally {
      this.checking = false;
    }
  }

  private async checkOnce(): Promise<void> {
    const token = `${process.pid}-${crypto.randomBytes(6).toString('hex')}`;
    let heard!: (alive: boolean) => void;
    const arrived = new Promise<boolean>((resolve) => { heard = resolve; });
    this.pendingPing = { token, arrived: () => heard(true) };
    try {
      await withDeadline(this.pool`SELECT pg_notify(${NAMES_CHANNEL}, ${JSON.stringify({ op: 'ping', token })})`, 'ping');
    } catch {
      this.pendingPing = undefined;
      this.poolTrouble(); // down, or a pool connection is broken: a fresh pool tries next time
      return; // nothing to learn about the listener until the database answers
    }
    // The listener's time starts once the ping is committed: a ping that waited for a read connection
    // (behind a reload's read or a lookup held by a lock; with DB_POOL_SIZE=1 there is one) was never
    // late on the listener's side, and replacing the listener for it cost a reload.
    const late = setTimeout(() => heard(false), Math.max(1000, this.checkEveryMs / 2)).unref();
    const alive = await arrived;
    clearTimeout(late);
    this.pendingPing = undefined;
    if (this.stopped) return;
    if (!alive) {
      log.warn('listener missed its ping; reconnecting and reloading');
      await this.closeListenConnection();
      await this.subscribe().catch((error) => log.warn('listener resubscribe failed; retrying at next check', { error }));
    } else if (this.reloadNeeded) {
      await this.reload();
    }
  }
}
