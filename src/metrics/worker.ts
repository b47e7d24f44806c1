import { AggregatorRegistry, Registry, collectDefaultMetrics } from 'prom-client';
import type { BatchObserver, BookingBatcher } from '../db/bookings';
import type { ExistenceCache } from '../domain/existence';
import type { SharedMisses } from '../domain/shared-misses';
import type { NameListener } from '../db/listen';
import { HttpMeters } from './http';
import { Buckets, ScrapeMetric, type Aggregator, type Sample } from './meters';

/** What a worker's metrics read at scrape time; all of it is plain fields, no I/O. */
export interface MetricSources {
  cache: ExistenceCache;
  missLookups: Record<'room' | 'user', SharedMisses>;
  batcher: BookingBatcher;
  listener: NameListener;
  requestsInFlight: { count: number };
  poolSize: number;
}

const BATCH_SIZE_BOUNDS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 10000];
const BATCH_SECONDS_BOUNDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];

/**
 * One worker's metrics. The primary asks every worker over the cluster channel and adds the
 * answers up (src/metrics/primary.ts); a worker never serves metrics itself. Construct this
 * before the worker's first await, so that no request from the primary arrives unheard.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly http = new HttpMeters();
  private readonly batchSize = new Buckets(BATCH_SIZE_BOUNDS);
  private readonly batchWait = new Buckets(BATCH_SECONDS_BOUNDS);
  private readonly batchDuration = new Buckets(BATCH_SECONDS_BOUNDS);

  /** Fed by the booking batcher once per statement. */
  readonly batches: BatchObserver = {
    started: (size, oldestWaitMs) => {
      this.batchSize.observe(size);
      this.batchWait.observe(oldestWaitMs / 1000);
    },
    finished: (durationMs) => this.batchDuration.observe(durationMs / 1000),
  };

  constructor() {
    AggregatorRegistry.setRegistries(this.registry);
    new AggregatorRegistry(); // its constructor is what makes a worker answer the primary's requests
    collectDefaultMetrics({ register: this.registry }); // process_* and nodejs_*: read at scrape (plus an event-loop delay monitor)
    for (const metric of this.http.metrics()) this.registry.registerMetric(metric as never);
    this.add('roombook_worker_up', 'Workers that answered this scrape', 'gauge', () => [{ labels: {}, value: 1 }]);
    this.add('roombook_booking_batch_size', 'Bookings decided by one statement', 'histogram',
      () => this.batchSize.samples('roombook_booking_batch_size', {}));
    this.add('roombook_booking_batch_wait_seconds', 'How long the oldest booking of a batch waited for its statement to start',
      'histogram', () => this.batchWait.samples('roombook_booking_batch_wait_seconds', {}));
    this.add('roombook_booking_batch_duration_seconds', 'How long one booking statement took, retries included', 'histogram',
      () => this.batchDuration.samples('roombook_booking_batch_duration_seconds', {}));
  }

  /** Gauges and counters read from the worker's parts once they exist. */
  watch(sources: MetricSources): void {
    const { cache, batcher, listener } = sources;
    const perKind = (read: (kind: 'room' | 'user') => number) => (): Sample[] =>
      (['room', 'user'] as const).map((kind) => ({ labels: { kind }, value: read(kind) }));
    this.add('roombook_http_requests_in_flight', 'Requests being answered', 'gauge',
      () => [{ labels: {}, value: sources.requestsInFlight.count }]);
    this.add('roombook_booking_queue_length', 'Bookings waiting for a statement', 'gauge', () => [{ labels: {}, value: batcher.queued }]);
    this.add('roombook_booking_gather_waits_total', 'Booking statements that waited for the clients just answered (BATCH_GATHER_MS): met, or ran out',
      'counter', () => [{ labels: { outcome: 'met' }, value: batcher.gatherWaits.met },
        { labels: { outcome: 'ran_out' }, value: batcher.gatherWaits.ranOut }]);
    this.add('roombook_db_booking_statements_in_flight', 'Booking statements running on the database (one connection each)',
      'gauge', () => [{ labels: {}, value: batcher.statementsInFlight }]);
    this.add('roombook_db_pool_connections_max', 'Database connections the workers may open (DB_POOL_SIZE + BATCH_MAX_IN_FLIGHT per worker, LISTEN not counted)',
      'gauge', () => [{ labels: {}, value: sources.poolSize }]);
    // Every worker caches the same names: the largest cache is the meaningful size.
    this.add('roombook_cache_entries', 'Names in a worker\'s name-to-id cache (the largest among workers)', 'gauge',
      perKind((kind) => cache.index(kind).size), 'max');
    this.add('roombook_cache_lookups_total', 'Name-to-id cache lookups', 'counter', perKind((kind) => cache.index(kind).lookups));
    this.add('roombook_cache_misses_total', 'Name-to-id cache lookups that had to ask the database', 'counter',
      perKind((kind) => cache.index(kind).misses));
    this.add('roombook_cache_miss_queries_total', 'Database lookups for cache misses (misses of the same name in one event-loop turn share one)',
      'counter', perKind((kind) => sources.missLookups[kind].queries));
    this.add('roombook_cache_reloads_total', 'Full reloads of the name-to-id cache (start, reconnect, bulk load)', 'counter',
      () => [{ labels: {}, value: listener.reloads }]);
  }

  private add(name: string, help: string, type: ScrapeMetric['type'], read: () => Sample[], aggregator?: Aggregator): void {
    this.registry.registerMetric(new ScrapeMetric(name, help, type, read, aggregator) as never);
  }
}
