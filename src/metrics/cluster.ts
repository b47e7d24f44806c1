import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';

/**
 * Asks every worker for its metrics and adds the answers up. The workers' side is prom-client's
 * (src/metrics/worker.ts constructs an AggregatorRegistry, which answers these messages); this
 * side replaces AggregatorRegistry.clusterMetrics(), which waits 5 s and then fails the whole
 * scrape when a worker dies between being asked and answering. Here a worker that exits is
 * simply no longer waited for: its counters died with it. (Never construct an
 * AggregatorRegistry in the primary as well: its listener throws on answers it did not ask for.)
 */
const REQUEST = 'prom-client:getMetricsReq';
const RESPONSE = 'prom-client:getMetricsRes';
const TIMEOUT_MS = 3000; // a worker this slow is stuck: fail the scrape rather than report a partial sum

type WorkerMetricsJson = Awaited<ReturnType<AggregatorRegistry<never>['getMetricsAsJSON']>>;

interface Collection {
  waiting: Set<number>; // worker ids
  answers: WorkerMetricsJson[];
  settle(error?: Error): void;
}

export class ClusterCollector {
  private nextRequestId = 0;
  private readonly collections = new Map<number, Collection>();

  constructor() {
    cluster.on('message', (worker: Worker, message: { type?: string; requestId?: number; metrics?: WorkerMetricsJson[]; error?: string }) => {
      if (message?.type !== RESPONSE) return;
      const collection = this.collections.get(message.requestId!);
      if (!collection || !collection.waiting.delete(worker.id)) return;
      if (message.error) return collection.settle(new Error(`worker ${worker.process.pid}: ${message.error}`));
      collection.answers.push(...message.metrics!);
      if (collection.waiting.size === 0) collection.settle();
    });
    cluster.on('exit', (worker: Worker) => {
      for (const collection of this.collections.values()) {
        if (collection.waiting.delete(worker.id) && collection.waiting.size === 0) collection.settle();
      }
    });
  }

  /** The Prometheus text of every live worker's metrics, added up ('' with no worker). */
  collect(): Promise<string> {
    const requestId = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      const collection: Collection = {
        waiting: new Set(),
        answers: [],
        settle: (error) => {
          clearTimeout(timer);
          this.collections.delete(requestId);
          if (error) reject(error);
          else resolve(collection.answers.length ? AggregatorRegistry.aggregate(collection.answers).metrics() : '');
        },
      };
      const timer = setTimeout(() => collection.settle(new Error(`workers did not answer within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
      this.collections.set(requestId, collection);
      for (const worker of Object.values(cluster.workers ?? {})) {
        if (!worker || !worker.isConnected()) continue;
        collection.waiting.add(worker.id);
        worker.send({ type: REQUEST, requestId }, (error: Error | null) => {
          // The channel closed under us: the worker is leaving; its 'exit' may already have passed.
          if (error && collection.waiting.delete(worker.id) && collection.waiting.size === 0) collection.settle();
        });
      }
      if (collection.waiting.size === 0) collection.settle();
    });
  }
}
