import { RouteMeter, ScrapeMetric, type Sample } from './meters';

/** Seconds; the API answers in well under a millisecond when nothing waits, so it starts small. */
const LATENCY_BOUNDS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];

/**
 * One RouteMeter per route of the table, made when the app is built: a request only indexes
 * an array. Statuses appear in the output from their first occurrence on.
 */
export class HttpMeters {
  private readonly meters: RouteMeter[] = [];

  forRoute(method: string, route: string): RouteMeter {
    const meter = new RouteMeter(method, route, LATENCY_BOUNDS);
    this.meters.push(meter);
    return meter;
  }

  metrics(): ScrapeMetric[] {
    return [
      new ScrapeMetric('roombook_http_requests_total', 'HTTP requests answered, by route, method and status (499: the client left first)',
        'counter', () => this.requestSamples()),
      new ScrapeMetric('roombook_http_request_duration_seconds', 'Time from a request\'s arrival to its answer, by route and method',
        'histogram', () => this.meters.flatMap((meter) => (meter.latency.count === 0 ? [] // a route never called adds no lines
          : meter.latency.samples('roombook_http_request_duration_seconds', { method: meter.method, route: meter.route })))),
    ];
  }

  private requestSamples(): Sample[] {
    const samples: Sample[] = [];
    for (const meter of this.meters) {
      meter.statuses.forEach((count, status) => {
        if (count > 0) samples.push({ labels: { method: meter.method, route: meter.route, status }, value: count });
      });
    }
    return samples;
  }
}
