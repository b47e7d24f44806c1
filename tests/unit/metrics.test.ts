import { AggregatorRegistry, Registry } from 'prom-client';
import { Buckets } from '../../src/metrics/meters';
import { HttpMeters } from '../../src/metrics/http';

/** The hot-path meters, as Prometheus text, alone and added up across "workers" as the primary does. */
async function text(meters: HttpMeters): Promise<string> {
  const registry = new Registry();
  for (const metric of meters.metrics()) registry.registerMetric(metric as never);
  return registry.metrics();
}

test('a histogram exports cumulative buckets, +Inf, sum and count', () => {
  const buckets = new Buckets([0.01, 0.1, 1]);
  [0.005, 0.01, 0.0625, 0.5, 7].forEach((value) => buckets.observe(value));
  const samples = buckets.samples('h', { route: '/x' });
  expect(samples.map((sample) => [sample.metricName, sample.labels.le, sample.value])).toEqual([
    ['h_bucket', 0.01, 2], ['h_bucket', 0.1, 3], ['h_bucket', 1, 4], ['h_bucket', '+Inf', 5],
    ['h_sum', undefined, 7.5775], ['h_count', undefined, 5],
  ]);
});

test('requests are counted by route, method and status; unused routes add no lines', async () => {
  const meters = new HttpMeters();
  const book = meters.forRoute('POST', '/book');
  meters.forRoute('GET', '/health');
  book.record(201, 0.001);
  book.record(201, 0.002);
  book.record(409, 0.003);
  const output = await text(meters);
  expect(output).toContain('roombook_http_requests_total{method="POST",route="/book",status="201"} 2');
  expect(output).toContain('roombook_http_requests_total{method="POST",route="/book",status="409"} 1');
  expect(output).toContain('roombook_http_request_duration_seconds_count{method="POST",route="/book"} 3');
  expect(output).not.toContain('/health');
});

test('the primary\'s aggregation adds the workers\' counts and histograms', async () => {
  const workers = [new HttpMeters(), new HttpMeters()];
  workers.forEach((meters, i) => {
    const meter = meters.forRoute('GET', '/health');
    for (let n = 0; n <= i; n++) meter.record(200, 0.0001);
  });
  const answers = await Promise.all(workers.map(async (meters) => {
    const registry = new Registry();
    for (const metric of meters.metrics()) registry.registerMetric(metric as never);
    return registry.getMetricsAsJSON();
  }));
  const output = await AggregatorRegistry.aggregate(answers).metrics();
  expect(output).toContain('roombook_http_requests_total{method="GET",route="/health",status="200"} 3');
  expect(output).toContain('roombook_http_request_duration_seconds_bucket{method="GET",route="/health",le="0.0005"} 3');
});
