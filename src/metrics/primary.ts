import http from 'node:http';
import type net from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import { ClusterCollector } from './cluster';

/**
 * The primary's side of metrics: its own few (worker restarts), and the HTTP endpoint on
 * METRICS_PORT. A scrape asks every worker for its registry over the cluster channel and adds
 * the answers up (./cluster.ts), so the numbers cover the whole service. Counters restart from zero with a replaced worker, so a sum can step down after a
 * restart; Prometheus's rate() reads that as a counter reset.
 */
export class PrimaryMetrics {
  private readonly registry = new Registry();
  private readonly workers = new ClusterCollector();
  readonly workerRestarts = new Counter({
    name: 'roombook_worker_restarts_total', help: 'Workers that died and were replaced', registers: [this.registry],
  });
  readonly workersReady = new Gauge({
    name: 'roombook_workers_ready', help: 'Workers that are listening now', registers: [this.registry],
  });

  /** The whole exposition: the workers' metrics added up, then the primary's own. */
  async text(): Promise<string> {
    const [workers, primary] = await Promise.all([this.workers.collect(), this.registry.metrics()]);
    return workers === '' ? primary : `${workers.trimEnd()}\n\n${primary}`;
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** Serves GET /metrics on host:port (0: any free port); fails like the API port check when taken. */
export function startMetricsServer(metrics: PrimaryMetrics, host: string, port: number,
  onError: (error: unknown) => void): Promise<MetricsServer> {
  const server = http.createServer((request, response) => {
    if (request.method !== 'GET' || (request.url ?? '').split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('Metrics are at GET /metrics.\n');
      return;
    }
    metrics.text().then(
      (text) => response.writeHead(200, { 'Content-Type': metrics.contentType }).end(text),
      (error) => {
        onError(error); // a worker that stopped answering: better no scrape than a partial sum
        response.writeHead(503, { 'Content-Type': 'text/plain' }).end(`Metrics are not available: ${(error as Error).message}\n`);
      },
    );
  });
  server.keepAliveTimeout = 65_000; // longer than Prometheus's default scrape interval: one connection per scraper
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new Error(error.code === 'EADDRINUSE' ? `metrics port ${port} on ${host} is already in use` : `cannot serve metrics on ${host}:${port}: ${error.message}`)));
    server.listen({ host, port, exclusive: true }, () => resolve({
      port: (server.address() as net.AddressInfo).port,
      close: () => new Promise((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
    }));
  });
}
