/**
 * Hot-path meters: plain numbers in arrays sized at start, read only when Prometheus scrapes.
 * prom-client's own labelled metrics build a label-hash string on every inc/observe, even
 * through a pre-created child; these cost an array index and an add. `ScrapeMetric` shows them
 * to a prom-client Registry through the `get()` contract that AggregatorRegistry also uses.
 */
export type Labels = Record<string, string | number>;

export interface Sample {
  labels: Labels;
  value: number;
  metricName?: string; // histograms: name_bucket, name_sum, name_count
}

/** prom-client aggregators: how the primary combines one metric's samples from every worker. */
export type Aggregator = 'sum' | 'max' | 'min' | 'average' | 'first' | 'omit';

/** A metric computed at scrape time, registered with `registry.registerMetric`. */
export class ScrapeMetric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
    private readonly read: () => Sample[],
    readonly aggregator: Aggregator = 'sum',
  ) {}

  get() {
    return { name: this.name, help: this.help, type: this.type, values: this.read(), aggregator: this.aggregator };
  }
}

/** A histogram's counts per bucket (not cumulative until exported), its sum and its count. */
export class Buckets {
  private readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    if (i < bounds.length) this.counts[i]++;
    this.sum += value;
    this.count++;
  }

  /** The Prometheus samples: cumulative buckets, +Inf, sum and count. */
  samples(name: string, labels: Labels): Sample[] {
    const out: Sample[] = [];
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i];
      out.push({ labels: { ...labels, le: this.bounds[i] }, value: cumulative, metricName: `${name}_bucket` });
    }
    out.push({ labels: { ...labels, le: '+Inf' }, value: this.count, metricName: `${name}_bucket` });
    out.push({ labels, value: this.sum, metricName: `${name}_sum` });
    out.push({ labels, value: this.count, metricName: `${name}_count` });
    return out;
  }
}

/** Requests answered per HTTP status (an array indexed by status) and their latency. */
export class RouteMeter {
  readonly statuses = new Float64Array(600);
  readonly latency: Buckets;

  constructor(readonly method: string, readonly route: string, latencyBounds: readonly number[]) {
    this.latency = new Buckets(latencyBounds);
  }

  record(status: number, seconds: number): void {
    this.statuses[status]++;
    this.latency.observe(seconds);
  }
}
