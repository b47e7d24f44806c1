import http from 'node:http';
import type net from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import { ClusterCollector } from './cluster';
import { bodyText, errorOf, methodNotAllowed, type Reply } from '../http/reply';

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

  private waiting: Promise<string> | undefined; // the next collection, which scrapes arriving now share
  private previous: Promise<unknown> = Promise.resolve(); // the collection under way, or done

  /**
   * The whole exposition: the workers' metrics added up, then the primary's own. One collection
   * runs at a time: a scrape that arrives during one waits for the next, which starts as it ends,
   * so it still counts every request answered before the scrape arrived, and every scrape that
   * arrives meanwhile shares it. A collection costs each worker about 5 ms of CPU and anyone who
   * reaches METRICS_PORT may ask: 200 scrapes at once cost 200 collections before.
   */
  text(): Promise<string> {
    this.waiting ??= this.previous.then(() => {
      this.waiting = undefined; // from now on, scrapes wait for the collection after this one
      const run = this.collect();
      this.previous = run.catch(() => undefined);
      return run;
    });
    return this.waiting;
  }

  private async collect(): Promise<string> {
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

const NOT_FOUND = errorOf('not_found');
const METHOD_NOT_ALLOWED = methodNotAllowed(['GET', 'HEAD']);

/**
 * Writes an answer with its Content-Length, which node:http leaves out of a HEAD answer unless told
 * (it drops the body of one itself): a HEAD gets exactly the headers its GET would.
 */
function answer(response: http.ServerResponse, status: number, headers: Record<string, string>, text: string): void {
  response.writeHead(status, { ...headers, 'Content-Length': String(Buffer.byteLength(text)) }).end(text);
}

/** An error of the catalogue, as the API port words it (src/http/reply.ts). */
function answerError(response: http.ServerResponse, reply: Reply): void {
  answer(response, reply.status, { ...reply.headers, 'Content-Type': 'application/json' }, bodyText(reply));
}

/**
 * Serves GET /metrics on host:port (0: any free port); fails like the API port check when taken.
 * Like the API port: HEAD answers what GET does without the body, another method is a 405 naming
 * GET and HEAD, any other path a 404, both with the JSON error bodies of the catalogue.
 */
export function startMetricsServer(metrics: PrimaryMetrics, host: string, port: number,
  onError: (error: unknown) => void): Promise<MetricsServer> {
  const server = http.createServer((request, response) => {
    if ((request.url ?? '').split('?')[0] !== '/metrics') return answerError(response, NOT_FOUND);
    if (request.method !== 'GET' && request.method !== 'HEAD') return answerError(response, METHOD_NOT_ALLOWED);
    metrics.text().then(
      (text) => answer(response, 200, { 'Content-Type': metrics.contentType }, text),
      (error) => {
        onError(error); // a worker that stopped answering: better no scrape than a partial sum
        answer(response, 503, { 'Content-Type': 'text/plain' }, `Metrics are not available: ${(error as Error).message}\n`);
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
