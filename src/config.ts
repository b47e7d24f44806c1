import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * Every environment variable roombook reads, declared once: name, type, default, meaning.
 * `loadConfig` validates them all at start and returns a frozen object; `--help` and the
 * README's table are this list.
 */
type Parse<T> = (raw: string) => T | undefined;

interface Setting<T> {
  env: string;
  meaning: string;
  fallback: string; // shown in --help; parsed like a user value
  documentedDefault?: string; // for the README when the fallback depends on the machine
  accepts: string;
  parse: Parse<T>;
  secret?: true; // never repeated in an error message
}

const integer = (min: number, max: number): Parse<number> => (raw) => {
  if (!/^\d+$/.test(raw.trim())) return undefined;
  const value = Number(raw);
  return value >= min && value <= max ? value : undefined;
};
const text: Parse<string> = (raw) => (raw.trim() === '' ? undefined : raw.trim());
/**
 * 16 characters or more: nothing limits how fast a client may guess, and a short token falls to
 * guessing. Printable ASCII: the token travels in a header, and uWebSockets.js drops bytes
 * 0x80-0xFF at the end of a header value (a token ending in "é" could never match) and leaves a
 * request whose header holds a control character unanswered.
 */
const headerToken: Parse<string> = (raw) => {
  const token = raw.trim();
  return token === '' || /^[\x20-\x7e]{16,}$/.test(token) ? token : undefined;
};
const timeZone: Parse<string> = (raw) => {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: raw.trim() }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
};
/**
 * An IP address as listen takes it (no brackets), or a host name of RFC 1123 labels. Its last label
 * must not be all digits (RFC 1123 2.1): `999.1.1.1` is neither an address nor a name, and passed
 * until listen failed without naming HOST.
 */
const hostLabel = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const listenHost: Parse<string> = (raw) => {
  const host = raw.trim();
  if (isIP(host)) return host;
  const labels = host.split('.');
  const isName = host.length <= 253 && labels.every((label) => hostLabel.test(label)) && !/^\d+$/.test(labels.at(-1)!);
  return isName ? host : undefined;
};
/**
 * Read as postgres.js 3.4 reads it (parseUrl): WHATWG's URL on the URL with its host list cut to
 * the first host, then the user and password percent-decoded. A URL it cannot read (a port beyond
 * 65535, a stray % in the password) passed here and stopped the start with "Invalid URL" or "URI
 * malformed", naming no setting.
 */
function readableByPostgresJs(url: string): boolean {
  try {
    const authority = url.slice(url.indexOf('://') + 3).split(/[?/]/)[0];
    const hosts = decodeURIComponent(authority.slice(authority.indexOf('@') + 1));
    const parsed = new URL(url.replace(hosts, hosts.split(',')[0]));
    decodeURIComponent(parsed.username);
    decodeURIComponent(parsed.password);
    return true;
  } catch {
    return false;
  }
}
const postgresUrl: Parse<string> = (raw) => {
  const url = raw.trim();
  return url === '' || (/^postgres(ql)?:\/\//.test(url) && readableByPostgresJs(url)) ? url : undefined;
};

const MAX_WORKERS = 256;

/** One worker per core, up to MAX_WORKERS: a larger machine must still start with nothing set. */
export function defaultWorkers(cores: number): number {
  return Math.min(cores, MAX_WORKERS);
}

export const settings = {
  host: { env: 'HOST', fallback: '127.0.0.1', accepts: 'an IPv4 or IPv6 address (no brackets), or a host name', parse: listenHost,
    meaning: 'address the API listens on' },
  port: { env: 'PORT', fallback: '3000', accepts: 'an integer 0-65535', parse: integer(0, 65535),
    meaning: 'port the API listens on (all workers share it)' },
  metricsPort: { env: 'METRICS_PORT', fallback: '9100', accepts: 'an integer 0-65535', parse: integer(0, 65535),
    meaning: 'port of the Prometheus metrics (GET /metrics on HOST), served by the primary, never on the API port (0: any free port)' },
  workers: { env: 'WORKERS', fallback: String(defaultWorkers(os.availableParallelism())), documentedDefault: `number of CPU cores, at most ${MAX_WORKERS}`,
    accepts: `an integer 1-${MAX_WORKERS}`, parse: integer(1, MAX_WORKERS),
    meaning: 'worker processes (default: number of CPU cores, fewer if the database has no connections for more); each holds DB_POOL_SIZE + BATCH_MAX_IN_FLIGHT + 1 connections, and a WORKERS the database has no room for stops the start' },
  databaseUrl: { env: 'DATABASE_URL', fallback: '', accepts: 'a postgres:// URL, or empty', parse: postgresUrl, secret: true, // it may hold a password
    meaning: 'PostgreSQL to use; empty starts the embedded PostgreSQL in DATA_DIR' },
  dataDir: { env: 'DATA_DIR', fallback: '.data', accepts: 'a directory path', parse: text,
    meaning: 'where the embedded PostgreSQL keeps its data (ignored with DATABASE_URL)' },
  embeddedPort: { env: 'EMBEDDED_PG_PORT', fallback: '0', accepts: 'an integer 0-65535', parse: integer(0, 65535),
    meaning: 'port of the embedded PostgreSQL on 127.0.0.1 (0: any free port)' },
  embeddedMaxConnections: { env: 'EMBEDDED_PG_MAX_CONNECTIONS', fallback: '0', accepts: 'an integer 0-100000', parse: integer(0, 100000),
    meaning: 'max_connections of the embedded PostgreSQL (0: the workers\' connections + 50, at least 200); more when other roombooks on this machine share it (the benchmarks do)' },
  bookingTimeZone: { env: 'BOOKING_TZ', fallback: 'UTC', accepts: 'an IANA time zone name', parse: timeZone,
    meaning: 'time zone that decides what "today" is; days before today cannot be booked' },
  maxBodyBytes: { env: 'MAX_BODY_BYTES', fallback: '16384', accepts: 'an integer 64-1048576',
    parse: integer(64, 1048576), meaning: 'largest request body accepted (413 above)' },
  poolSize: { env: 'DB_POOL_SIZE', fallback: '2', accepts: 'an integer 1-100', parse: integer(1, 100),
    meaning: 'database connections per worker for reads and admin calls (bookings have BATCH_MAX_IN_FLIGHT of their own, LISTEN one); a full cache reload holds one of them while it runs, so with 1, /ready and reads wait for it' },
  batchMaxSize: { env: 'BATCH_MAX_SIZE', fallback: '512', accepts: 'an integer 1-10000', parse: integer(1, 10000),
    meaning: 'most bookings decided by one INSERT statement' },
  batchMaxInFlight: { env: 'BATCH_MAX_IN_FLIGHT', fallback: '1', accepts: 'an integer 1-100', parse: integer(1, 100),
    meaning: 'booking statements one worker runs at once, each on a connection of its own; more requests wait and join the next batch' },
  batchGatherMs: { env: 'BATCH_GATHER_MS', fallback: '2', accepts: 'an integer 0-1000', parse: integer(0, 1000),
    meaning: 'longest the next booking statement waits for the clients just answered to send their next booking (0: never waits); timers count whole milliseconds of a cached clock, so a wait can end up to about 1 ms early' },
  bookingStatementTimeoutMs: { env: 'BOOKING_STATEMENT_TIMEOUT_MS', fallback: '3000', accepts: 'an integer 100-600000',
    parse: integer(100, 600000),
    meaning: 'longest a booking statement may run (its bookings get 503); a connection silent 2 s longer is replaced and its outcome looked up' },
  listenerCheckMs: { env: 'LISTENER_CHECK_MS', fallback: '5000', accepts: 'an integer 100-600000',
    parse: integer(100, 600000), meaning: 'how often a worker proves its LISTEN connection alive (ping through NOTIFY)' },
  queryTimeoutMs: { env: 'QUERY_TIMEOUT_MS', fallback: '10000', accepts: 'an integer 1000-600000',
    parse: integer(1000, 600000),
    meaning: 'longest a read or admin query or transaction may wait for its answer: then 503 db_unavailable, and the worker renews its read connections; also their idle_in_transaction_session_timeout' },
  shutdownTimeoutMs: { env: 'SHUTDOWN_TIMEOUT_MS', fallback: '8000', accepts: 'an integer 100-60000',
    parse: integer(100, 60000), meaning: 'longest a graceful shutdown waits for requests in flight' },
  logLevel: { env: 'LOG_LEVEL', fallback: 'info', accepts: 'debug, info, warn, error or silent',
    parse: (raw: string) => (['debug', 'info', 'warn', 'error', 'silent'].includes(raw.trim()) ? raw.trim() : undefined),
    meaning: 'least severe log level written (JSON lines on stderr)' },
  adminToken: { env: 'ADMIN_TOKEN', fallback: '', accepts: '16+ characters of printable ASCII, or empty', parse: headerToken, secret: true,
    meaning: 'bearer token for creating, renaming and deleting rooms and users; without it the API listens on loopback only' },
  cancelTokenSecret: { env: 'CANCEL_TOKEN_SECRET', fallback: '', accepts: 'any string of 16+ characters, or empty',
    parse: (raw: string) => (raw === '' || raw.length >= 16 ? raw : undefined), secret: true,
    meaning: 'key of the cancel tokens; empty: a random one made once and shared through the database; setting or changing it voids every cancel token issued before' },
} satisfies Record<string, Setting<unknown>>;

type Settings = typeof settings;
export type Config = { readonly [K in keyof Settings]: ReturnType<Settings[K]['parse']> & {} };

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const config: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, setting] of Object.entries(settings) as [string, Setting<unknown>][]) {
    // Empty or blank means unset, for every setting alike: an env file or compose entry left blank
    // (`DATA_DIR=`) gets the default rather than a refusal.
    const given = env[setting.env];
    const raw = given === undefined || given.trim() === '' ? setting.fallback : given;
    const value = setting.parse(raw);
    if (value !== undefined) config[key] = value;
    else problems.push(`${setting.env}${setting.secret ? '' : `=${JSON.stringify(raw)}`} is not valid: expected ${setting.accepts}`);
  }
  if (config.adminToken === '' && typeof config.host === 'string' && !isLoopback(config.host)) {
    problems.push(`HOST=${config.host} is not a loopback address, and ADMIN_TOKEN is not set: anyone could change rooms and users. Set ADMIN_TOKEN, or HOST=127.0.0.1.`);
  }
  if (config.metricsPort !== 0 && config.metricsPort === config.port) {
    problems.push(`METRICS_PORT=${config.metricsPort} is the API port: metrics are never served on the API port; choose another.`);
  }
  if (problems.length) throw new ConfigError(problems.join('\n'));
  config.dataDir = path.resolve(config.dataDir as string);
  return Object.freeze(config) as Config;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export function isDefaultDataDir(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.DATA_DIR === undefined || env.DATA_DIR.trim() === '';
}

/** WORKERS left to its default (one per core), which the primary may lower to fit the database's connections. */
export function isDefaultWorkers(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.WORKERS === undefined || env.WORKERS.trim() === '';
}

/** The --help text: the same list as the README's configuration table. */
export function describeSettings(): string {
  const width = Math.max(...Object.values(settings).map((s) => s.env.length));
  const rows = Object.values(settings).map((s) => `  ${s.env.padEnd(width)} ${s.meaning}\n  ${''.padEnd(width)} default: ${s.fallback === '' ? '(empty)' : s.fallback}; accepts ${s.accepts}`);
  return `roombook: room-reservation HTTP API\n\nEnvironment variables:\n${rows.join('\n')}\n`;
}
