import net from 'node:net';

/**
 * A TCP relay in front of PostgreSQL that can make chosen connections go silent: both ends stay
 * open, nothing passes. That is a dropped network path as the client sees it (no FIN, no RST),
 * which postgres.js does not notice by itself. Connections are told apart by the
 * application_name in their startup message (roombook-listener, roombook-bookings, roombook).
 */
interface Pair { client: net.Socket; upstream: net.Socket; applicationName: string; silenced: boolean; queried: boolean }

/** The first byte of a query message: a simple Query, or the Parse of an extended one. */
const QUERY_TYPES = new Set(['Q'.charCodeAt(0), 'P'.charCodeAt(0)]);

export class SilencingRelay {
  private readonly server: net.Server;
  private readonly pairs = new Set<Pair>();
  private readonly silenceAtFirstQuery = new Map<string, number>(); // application_name: how many new connections

  constructor(target: { host: string; port: number }) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(target.port, target.host);
      const pair: Pair = { client, upstream, applicationName: '', silenced: false, queried: false };
      this.pairs.add(pair);
      let first = true;
      client.on('data', (chunk) => {
        // postgres.js sends no SSLRequest by default: the first packet is the startup message.
        if (first) pair.applicationName = /application_name\0([^\0]*)\0/.exec(chunk.toString('latin1'))?.[1] ?? '';
        else if (!pair.queried && QUERY_TYPES.has(chunk[0])) {
          pair.queried = true;
          if (this.takeSilenceAtFirstQuery(pair)) pair.silenced = true;
        }
        first = false;
        if (!pair.silenced) upstream.write(chunk);
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

  private takeSilenceAtFirstQuery(pair: Pair): boolean {
    const left = this.silenceAtFirstQuery.get(pair.applicationName) ?? 0;
    if (left === 0 || pair.silenced) return false;
    this.silenceAtFirstQuery.set(pair.applicationName, left - 1);
    return true;
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
