import { targets, type ScenarioResult } from '../../bench/lib/report';
import type { Summary } from '../../bench/lib/measure';

/** npm run bench's target lines, from a run's medians (figures of a slow hour, 2026-12-02). */
const summary = (fields: Partial<Summary>): Summary => ({
  runs: 3, requestsPerSecond: 0, latencyMeanMs: 1, latencyP99Ms: 1, share2xx: 1, share409: 0, serverErrors: 0, socketErrors: 0,
  bookingsPerSecond: 0, loadGeneratorCpuS: 0, cpuPerRequestUs: { server: 0, postgres: 0, loadGenerator: 0 }, meanBatchSize: 0,
  meanStatementMs: 0, shareRanOut: 0, workerPeakRssMb: 0, checks: '3 exact', ...fields,
});

const result = (id: string, server: ScenarioResult['server'], fields: Partial<Summary>, vsCeiling = 0): ScenarioResult => ({
  id, label: id, server, threads: 4, connections: id.endsWith('c64') ? 64 : 15, command: 'wrk', summary: summary(fields), vsCeiling,
});

const original = result('original-c64', 'roombook', { requestsPerSecond: 30361, latencyP99Ms: 8.72 }, 0.377);
const fresh = result('fresh-c64', 'roombook', { requestsPerSecond: 16604, bookingsPerSecond: 16607, latencyP99Ms: 4.4 });
const ceiling = result('ceiling-c64', 'ceiling', { requestsPerSecond: 73740, latencyP99Ms: 4.1 });

test('each -c64 p99 is shown beside the ceiling server\'s own p99 of the same runs', () => {
  const p99 = targets([original, ceiling, fresh]).filter((target) => target.what.startsWith('p99'));
  expect(p99).toEqual([
    { what: 'p99 < 5 ms: original-c64', measured: '8.72 ms (the ceiling server\'s own: 4.10 ms)', pass: false },
    { what: 'p99 < 5 ms: fresh-c64', measured: '4.40 ms (the ceiling server\'s own: 4.10 ms)', pass: true },
  ]);
});

test('without the ceiling in the run, the p99 stands alone and the share of the ceiling is not judged', () => {
  const found = targets([original, fresh]);
  expect(found.map((target) => target.what)).not.toContain('original script -t4 -c64 ≥ 50 % of the ceiling server');
  expect(found.find((target) => target.what === 'p99 < 5 ms: original-c64')?.measured).toBe('8.72 ms');
  expect(found.find((target) => target.what.startsWith('fresh'))).toEqual(
    { what: 'fresh workload ≥ 30,000 committed bookings/s', measured: '16,607/s', pass: false });
});
