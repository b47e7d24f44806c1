import cluster, { type Worker as ClusterWorker } from 'node:cluster';
import net from 'node:net';
import { isDefaultDataDir, isDefaultWorkers, type Config } from './config';
import { embeddedMaxConnections, fitWorkers, readConnectionLimits, type WorkerFit } from './db/connection-budget';
import { createSql, workerDatabaseUrl } from './db/sql';
import { migrate } from './db/migrate';
import type { EmbeddedDatabase } from './db/embedded';
import { workerExecArgv } from './heap';
import { log } from './log';
import { PrimaryMetrics, startMetricsServer, type MetricsServer } from './metrics/primary';
import { version } from './version';

/** Messages between the primary and its workers. */
export type WorkerMessage = { type: 'ready'; port: number };
export const WORKER_DATABASE_URL = 'ROOMBOOK_WORKER_DATABASE_URL';

const MAX_FAILED_STARTS = 5; // consecutive workers that die before ever being ready
const MAX_RESTART_DELAY_MS = 5000;

/**
 * The signals that stop roombook gracefully, primary and workers alike. SIGHUP: the terminal closed;
 * its default would end every process at once and leave the embedded PostgreSQL (a process group of
 * its own) running.
 */
export const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/**
 * The primary: port check, database (embedded or DATABASE_URL), migrations, the connection budget,
 * then one worker per core (or WORKERS, within the budget); replaces workers that die, and shuts
 * everything down on any of STOP_SIGNALS.
 */
export async function runPrimary(config: Config): Promise<void> {
  let embedded: EmbeddedDatabase | undefined;
  let metricsServer: MetricsServer | undefined;
  let shuttingDown = false;
  const metrics = new PrimaryMetrics(); // from here on, workers' metric answers are heard
  const ready = new Set<number>(); // ids of the workers that said they are listening

  const shutdown = async (exitCode: number, reason: string): Promise<void> => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info('shutting down', { reason });
    const forced = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      killWorkers();
      process.exit(exitCode || 1);
    }, config.shutdownTimeoutMs + 1500);
    await metricsServer?.close(); // a scrape now would only wait on workers that are leaving
    await stopWorkers(ready);
    await embedded?.stop();
    clearTimeout(forced);
    log.info('stopped');
    process.exit(exitCode);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, () => void shutdown(0, signal));

  try {
    // First: a port that is taken (or a HOST that is no address here) must not cost an initdb.
    const port = await checkPortFree(config.host, config.port);
    if (!config.databaseUrl) {
      // Loaded only when used: with DATABASE_URL the embedded binaries are never touched.
      const { startEmbeddedPostgres } = require('./db/embedded') as typeof import('./db/embedded');
      embedded = await startEmbeddedPostgres({
        dataDir: config.dataDir, dataDirIsDefault: isDefaultDataDir(), port: config.embeddedPort,
        maxConnections: config.embeddedMaxConnections || embeddedMaxConnections(config),
        log: (message, level = 'warn') => log[level](message, { component: 'embedded-postgres' }),
        // Without its database the service could only answer 503 for good, with /health still 200:
        // stopping (exit 1) hands it to whatever supervises it, and the next start starts PostgreSQL again.
        onUnexpectedExit: () => void shutdown(1, 'embedded PostgreSQL exited'),
      });
    }
    const databaseUrl = config.databaseUrl || embedded!.url;
    const sql = createSql(databaseUrl, { max: 1, applicationName: 'roombook-migrate' });
    let fit: WorkerFit;
    let workerUrl: string;
    try {
      const applied = await migrate(sql, undefined, (message) => log.warn(message));
      if (applied.length) log.info('migrations applied', { applied });
      fit = fitWorkers(config, !isDefaultWorkers(), await readConnectionLimits(sql));
      workerUrl = await workerDatabaseUrl(sql, databaseUrl);
    } finally {
      await sql.end({ timeout: 2 });
    }
    if ('refused' in fit) throw new Error(fit.refused);
    if (fit.lowered) log.warn(fit.lowered);
    metricsServer = await startMetricsServer(metrics, config.host, config.metricsPort,
      (error) => log.warn('metrics scrape failed', { error }));
    if (!config.adminToken) {
      log.warn('ADMIN_TOKEN is not set: listening on loopback only, and any local client may change rooms and users');
    }
    startWorkers({ ...config, workers: fit.workers }, databaseUrl, workerUrl, port, Boolean(embedded), () => shuttingDown, shutdown,
      { metrics, port: metricsServer.port }, ready);
  } catch (error) {
    log.error(`cannot start: ${(error as Error).message}`);
    await shutdown(1, 'start failed');
  }
}

/**
 * uWS listens with SO_REUSEPORT, so a stale server on our port would silently share the traffic.
 * A plain listen (without it) fails on any port taken. Port 0 picks a free port for all workers.
 */
function checkPortFree(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => reject(new Error(listenFailure(host, port, error))));
    probe.listen({ host, port, exclusive: true }, () => {
      const chosen = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(chosen));
    });
  });
}

/** Names the setting to change: HOST passes validation and may still be no address of this machine. */
function listenFailure(host: string, port: number, error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'EADDRINUSE': return `port ${port} on ${host} is already in use`;
    case 'EADDRNOTAVAIL': return `HOST=${host}: no network interface of this machine has that address`;
    case 'ENOTFOUND': case 'EAI_AGAIN': return `HOST=${host}: the name does not resolve to an address (${error.code})`;
    default: return `cannot listen on HOST=${host} PORT=${port}: ${error.message}`;
  }
}

function startWorkers(config: Config, databaseUrl: string, workerUrl: string, port: number, isEmbedded: boolean,
  isShuttingDown: () => boolean, shutdown: (code: number, reason: string) => Promise<void>,
  observed: { metrics: PrimaryMetrics; port: number }, ready: Set<number>): void {
  const env = { [WORKER_DATABASE_URL]: workerUrl, PORT: String(port) };
  let failedStarts = 0;
  let everyoneReady = false;

  const fork = (): void => {
    const worker = cluster.fork(env);
    let wasReady = false;
    worker.on('message', (message: WorkerMessage) => {
      if (message.type !== 'ready') return;
      wasReady = true;
      failedStarts = 0;
      ready.add(worker.id);
      observed.metrics.workersReady.set(ready.size);
      if (!everyoneReady && ready.size === config.workers) {
        everyoneReady = true;
        log.info('roombook listening', {
          url: `http://${net.isIPv6(config.host) ? `[${config.host}]` : config.host}:${port}`, port, metricsPort: observed.port, version, workers: config.workers,
          database: redact(databaseUrl), embeddedPostgres: isEmbedded,
        });
      }
    });
    worker.on('exit', (code, signal) => {
      ready.delete(worker.id);
      observed.metrics.workersReady.set(ready.size);
      if (isShuttingDown()) return;
      failedStarts = wasReady ? 0 : failedStarts + 1;
      if (failedStarts >= MAX_FAILED_STARTS) {
        void shutdown(1, `workers keep dying at start (${failedStarts} in a row; last: code ${code}, signal ${signal}); see the errors above`);
        return;
      }
      const delay = Math.min(100 * 2 ** failedStarts, MAX_RESTART_DELAY_MS);
      log.warn('worker died; replacing it', { worker: worker.process.pid, code, signal, delayMs: delay });
      observed.metrics.workerRestarts.inc();
      setTimeout(() => isShuttingDown() || fork(), delay);
    });
  };
  cluster.setupPrimary({ execArgv: workerExecArgv(process.execArgv) }); // applies to every fork, replacements too
  for (let i = 0; i < config.workers; i++) fork();
}

/**
 * Asks every worker to finish its requests and exit; resolves when all have exited. A worker that
 * has not said it is ready is not listening, so has nothing to finish, and does not hear the stop
 * message until it is (src/main.ts): it gets SIGTERM, which it also answers by stopping once ready.
 */
async function stopWorkers(ready: ReadonlySet<number>): Promise<void> {
  const workers = Object.values(cluster.workers ?? {}).filter((worker): worker is ClusterWorker => worker !== undefined);
  await Promise.all(workers.map((worker) => new Promise<void>((resolve) => {
    if (worker.isDead()) return resolve();
    worker.once('exit', () => resolve());
    if (!ready.has(worker.id)) worker.process.kill('SIGTERM');
    else worker.send({ type: 'stop' }, (error: Error | null) => { if (error) worker.kill('SIGTERM'); });
  })));
}

/**
 * Ends every worker still running, at once. A worker that never answered the stop (its event loop
 * hung, or the process stopped) outlived the primary and kept the port, so the next start on it
 * failed; SIGKILL ends it even if it is stopped.
 */
function killWorkers(): void {
  for (const worker of Object.values(cluster.workers ?? {})) {
    if (worker && !worker.isDead()) worker.process.kill('SIGKILL');
  }
}

/** The URL as logged: its password masked, whether in the userinfo or in the query (?password=). */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    if (parsed.searchParams.has('password')) parsed.searchParams.set('password', '***');
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}
