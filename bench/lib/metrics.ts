import http from 'node:http';

/**
 * Roombook's own view of its batches, from the Prometheus text its primary serves (METRICS_PORT):
 * statements run, bookings they decided, and time spent. Read before and after a run; the
 * difference tells the mean batch size and statement time of that run.
 */
export interface BatchCounters {
  statements: number;
  bookings: number;
  statementSeconds: number;
  waitSeconds: number;
  waitsRanOut: number; // statements whose wait for returning clients ran out (BATCH_GATHER_MS)
}

export interface BatchFigures {
  statements: number;
  meanBatchSize: number;
  meanStatementMs: number;
  meanWaitMs: number; // how long the oldest booking of a batch waited for its statement to start
  shareRanOut: number; // of the statements, those whose wait for returning clients ran out
}

const wanted = {
  roombook_booking_batch_size_count: 'statements',
  roombook_booking_batch_size_sum: 'bookings',
  roombook_booking_batch_duration_seconds_sum: 'statementSeconds',
  roombook_booking_batch_wait_seconds_sum: 'waitSeconds',
  'roombook_booking_gather_waits_total{outcome="ran_out"}': 'waitsRanOut',
} as const;

/** undefined when the metrics cannot be read (an older roombook, or none served). */
export async function readBatchCounters(metricsUrl: string | undefined): Promise<BatchCounters | undefined> {
  if (!metricsUrl) return undefined;
  const text = await getText(metricsUrl).catch(() => undefined);
  if (!text) return undefined;
  const counters: Partial<BatchCounters> = {};
  for (const line of text.split('\n')) {
    const [name, value] = line.split(' ');
    if (name in wanted) counters[wanted[name as keyof typeof wanted]] = Number(value);
  }
  return Object.keys(wanted).length === Object.keys(counters).length ? (counters as BatchCounters) : undefined;
}

export function batchFigures(before: BatchCounters | undefined, after: BatchCounters | undefined): BatchFigures | undefined {
  if (!before || !after) return undefined;
  const statements = after.statements - before.statements;
  if (statements <= 0) return undefined;
  return {
    statements,
    meanBatchSize: (after.bookings - before.bookings) / statements,
    meanStatementMs: ((after.statementSeconds - before.statementSeconds) / statements) * 1000,
    meanWaitMs: ((after.waitSeconds - before.waitSeconds) / statements) * 1000,
    shareRanOut: (after.waitsRanOut - before.waitsRanOut) / statements,
  };
}

function getText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { timeout: 5000 }, (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => resolve(text));
    });
    request.on('timeout', () => request.destroy(new Error('metrics timed out')));
    request.on('error', reject);
  });
}
