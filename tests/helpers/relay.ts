import net from 'node:net';

/**
 * A TCP relay in front of PostgreSQL that can make chosen connections go silent: both ends stay
 * open, nothing passes. That is a dropped network path as the client sees it (no FIN, no RST),
 * which postgres.js does not notice by itself. Connections are told apart by the
 * application_name in their startup message (roombook-listener, roombook-bookings, roombook).
 */
interface Pair { client: net.Socket; upstream: net.Socket; applicationName: string; silenced: boolean; queried: boolean;
  held?: Buffer[] } // what the client sent since a query was held, not passed on yet

/** The first byte of a query message: a simple Query, or the Parse of an extended one. */
const QUERY_TYPES = new Set(['Q'.charCodeAt(0), 'P'.charCodeAt(0)]);

export type FirstQueryFailure = 'terminated' | 'reset';

/** A PostgreSQL ErrorResponse message. */
function errorResponse(severity: string, code: string, message: string): Buffer {
  const fields = Buffer.from(`S${severity}\0V${severity}\0C${code}\0M${message}\0\0`, 'utf8');
  const head = Buffer.alloc(5);
  head.write('E', 0, 'latin1');
  head.writeUInt32BE(fields.length + 4, 1);
  return Buffer.concat([head, fields]);
}

/** Takes one from what is left for this application_name; false when nothing is. */
function takeOne(left: Map<string, number>, applicationName: string): boolean {
  const count = left.get(applicationName) ?? 0;
  if (count === 0) return false;
  left.set(applicationName, count - 1);
  return true;
}

/** Takes the first entry for this connection's application_name whose text the chunk holds. */
function takeMatching<T extends { applicationName: string; text: string }>(entries: T[], pair: Pair, chunk: Buffer): T | undefined {
  const sent = chunk.toString('latin1');
  const index = entries.findIndex((entry) => entry.applicationName === pair.applicationName && sent.includes(entry.text));
  return index === -1 ? undefined : entries.splice(index, 1)[0];
}

export class SilencingRelay {
  private readonly server: net.Server;
  private readonly pairs = new Set<Pair>();
  private readonly silenceAtFirstQuery = new Map<string, number>(); // application_name: how many new connections
  private readonly closeAtStartup = new Map<string, number>();
  private readonly startups = new Map<string, number>();
  private readonly failAtFirstQuery = new Map<string, number>();
  private readonly failAtFirstQueryHow = new Map<string, FirstQueryFailure>();
  private readonly failQueries: { applicationName: string; text: string; how: FirstQueryFailure }[] = [];
  private readonly holds: { applicationName: string; text: string; seen: () => void; pair?: Pair }[] = [];

  constructor(target: { host: string; port: number }) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(target.port, target.host);
      const pair: Pair = { client, upstream, applicationName: '', silenced: false, queried: false };
      this.pairs.add(pair);
      let first = true;
      client.on('data', (chunk) => {
        // postgres.js sends no SSLRequest by default: the first packet is the startup message.
        if (first) {
          pair.applicationName = /application_name\0([^\0]*)\0/.exec(chunk.toString('latin1'))?.[1] ?? '';
          this.startups.set(pair.applicationName, (this.startups.get(pair.applicationName) ?? 0) + 1);
          if (this.takeCloseAtStartup(pair)) {
            pair.silenced = true;
            client.end(); // a clean close (FIN) before the server has seen the connection
            upstream.destroy();
            return;
          }
        } else if (!pair.queried && QUERY_TYPES.has(chunk[0])) {
          pair.queried = true;
          if (this.takeSilenceAtFirstQuery(pair)) pair.silenced = true;
          const failure = this.takeFailAtFirstQuery(pair);
          if (failure) return this.fail(pair, failure);
        }
        if (!pair.silenced && QUERY_TYPES.has(chunk[0])) {
          const failure = this.takeFailQuery(pair, chunk);
          if (failure) return this.fail(pair, failure);
        }
        first = false;
        if (!pair.held && QUERY_TYPES.has(chunk[0])) this.takeHold(pair, chunk);
        if (pair.held) pair.held.push(chunk);
        else if (!pair.silenced) upstream.write(chunk);
      });
      upstream.on('data', (chunk) => pair.silenced || client.write(chunk));
      const close = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      // On a dropped path the server never hears that the client gave up: a silenced connection's
      // server side stays open (until the server ends it, or the relay closes).
      const clientGone = () => (pair.silenced ? client.destroy() : close());
      client.on('error', clientGone);
      client.on('close', clientGone);
      upstream.on('error', close);
      upstream.on('close', close);
    });
  }

  /** Listens on 127.0.0.1; the port to put in the URL roombook gets. */
  listen(): Promise<number> {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => resolve((this.server.address() as net.AddressInfo).port)));
  }

  /** Open, not silenced connections of this application_name. */
  live(applicationName: string): number {
    return [...this.pairs].filter((pair) => pair.applicationName === applicationName && !pair.silenced).length;
  }

  /** Open, silenced connections of this application_name. */
  silenced(applicationName: string): number {
    return [...this.pairs].filter((pair) => pair.applicationName === applicationName && pair.silenced).length;
  }

  /** Silences every open connection of this application_name; later ones pass as usual. */
  silence(applicationName: string): number {
    const chosen = [...this.pairs].filter((pair) => pair.applicationName === applicationName && !pair.silenced);
    chosen.forEach((pair) => (pair.silenced = true));
    return chosen.length;
  }

  /**
   * The next `count` connections of this application_name are silenced as they send their first
   * query: connected and authenticated, then gone silent with a query in flight.
   */
  silenceNextAtFirstQuery(applicationName: string, count = 1): void {
    this.silenceAtFirstQuery.set(applicationName, count);
  }

  /**
   * The next `count` connections of this application_name fail as they send their first query (for
   * a postgres.js pool, the array-type fetch of a new connection): 'terminated' answers it as
   * pg_terminate_backend does (ErrorResponse FATAL 57P01, then the server closes), 'reset' ends the
   * connection with a TCP RST. The query never reaches the server.
   */
  failNextAtFirstQuery(applicationName: string, how: FirstQueryFailure, count = 1): void {
    this.failAtFirstQuery.set(applicationName, count);
    this.failAtFirstQueryHow.set(applicationName, how);
  }

  /** The next query of this application_name whose text contains `text` fails so, with its connection. */
  failNextQueryContaining(applicationName: string, text: string, how: FirstQueryFailure): void {
    this.failQueries.push({ applicationName, text, how });
  }

  /**
   * The next query of this application_name whose text contains `text` is held at the relay, with
   * everything its connection sends after it, until release() passes them on: a query sent that
   * the server has not seen yet. `seen` resolves when it is held.
   */
  holdNextQueryContaining(applicationName: string, text: string): { seen: Promise<void>; release: () => void } {
    const hold: (typeof this.holds)[number] = { applicationName, text, seen: () => {} };
    const seen = new Promise<void>((resolve) => (hold.seen = resolve));
    this.holds.push(hold);
    const release = () => {
      const pair = hold.pair;
      if (!pair?.held) return;
      const chunks = pair.held;
      pair.held = undefined;
      if (!pair.silenced) chunks.forEach((chunk) => pair.upstream.write(chunk));
    };
    return { seen, release };
  }

  private takeHold(pair: Pair, chunk: Buffer): void {
    const hold = takeMatching(this.holds, pair, chunk);
    if (!hold) return;
    hold.pair = pair;
    pair.held = [];
    hold.seen();
  }

  /**
   * Resets (TCP RST) the client side of every open connection of this application_name, as a
   * middlebox that drops them does: the client sees its connection fail; the server sees it closed
   * only when it next reads or writes, and a statement it is running (or waiting to run, for a
   * lock) runs on.
   */
  reset(applicationName: string): number {
    const chosen = [...this.pairs].filter((pair) => pair.applicationName === applicationName && !pair.silenced);
    chosen.forEach((pair) => pair.client.resetAndDestroy());
    return chosen.length;
  }

  private takeFailQuery(pair: Pair, chunk: Buffer): FirstQueryFailure | undefined {
    return takeMatching(this.failQueries, pair, chunk)?.how;
  }

  private takeFailAtFirstQuery(pair: Pair): FirstQueryFailure | undefined {
    if (pair.silenced || !takeOne(this.failAtFirstQuery, pair.applicationName)) return undefined;
    return this.failAtFirstQueryHow.get(pair.applicationName);
  }

  private fail(pair: Pair, how: FirstQueryFailure): void {
    pair.silenced = true; // nothing more passes either way
    if (how === 'reset') {
      pair.client.resetAndDestroy();
    } else {
      pair.client.end(errorResponse('FATAL', '57P01', 'terminating connection due to administrator command'));
    }
    pair.upstream.destroy();
  }

  /**
   * The next `count` connections of this application_name are closed (FIN, no error) as they send
   * their startup message: what a TCP proxy or load balancer in front of a database that is down
   * does, and this relay too when PostgreSQL refuses it.
   */
  closeNextAtStartup(applicationName: string, count = 1): void {
    this.closeAtStartup.set(applicationName, count);
  }

  /** Startup messages seen from connections of this application_name, closed ones included. */
  startupsOf(applicationName: string): number {
    return this.startups.get(applicationName) ?? 0;
  }

  private takeCloseAtStartup(pair: Pair): boolean {
    return takeOne(this.closeAtStartup, pair.applicationName);
  }

  private takeSilenceAtFirstQuery(pair: Pair): boolean {
    return !pair.silenced && takeOne(this.silenceAtFirstQuery, pair.applicationName);
  }

  close(): Promise<void> {
    this.pairs.forEach((pair) => {
      pair.client.destroy();
      pair.upstream.destroy();
    });
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A relay listening in front of the database at `databaseUrl`, and the URL that goes through it. */
export async function relayTo(databaseUrl: string): Promise<{ relay: SilencingRelay; url: string }> {
  const direct = new URL(databaseUrl);
  const relay = new SilencingRelay({ host: direct.hostname, port: Number(direct.port || 5432) });
  const relayed = new URL(databaseUrl);
  relayed.hostname = '127.0.0.1';
  relayed.port = String(await relay.listen());
  return { relay, url: relayed.toString() };
}
