import { setTimeout as sleep } from 'node:timers/promises';
import { countBookings, doubleBookedSlots, resetBookings, type Sql } from './database';
import { runLoad, type LoadResult, type LoadSpec, type Tool } from './load';
import type { BatchFigures } from './metrics';
import { median, sum } from './stats';

/**
 * One measured load run, and for roombook the SQL check around it: the 201s seen must equal the
 * rows written, and no (room, day) may hold two bookings.
 */
export interface Check {
  rowsBefore: number;
  rowsAfter: number;
  written: number;
  created: number; // 201s the load generator saw
  doubleBooked: number;
  /**
   * exact: written = 201s. cut-off: up to one booking per connection more was written than seen,
   * the answers wrk dropped when its time was up. MISMATCH: anything else.
   */
  verdict: 'exact' | 'cut-off' | 'MISMATCH';
}

/** CPU seconds used during the load: the server's tree, PostgreSQL's (roombook only), the load generator. */
export interface CpuUse { server: number; postgres?: number; loadGenerator: number }

export interface RunRecord {
  scenario: string;
  run: number; // 0: the warm-up, discarded
  load: LoadResult;
  check?: Check;
  cpu?: CpuUse;
  batches?: BatchFigures; // roombook's metrics: mean batch size and statement time in this run
  workerPeakRssMb?: number; // the largest worker's peak resident memory so far (VmHWM), roombook only
}

/** Called right before and right after the load itself (CPU readings), outside the SQL checks. */
export interface Around { before(): void; after(): void }

export async function measure(tool: Tool, spec: LoadSpec, repoRoot: string, sql: Sql | undefined, reset: boolean,
  around?: Around): Promise<{ load: LoadResult; check?: Check }> {
  if (sql && reset) await resetBookings(sql);
  const rowsBefore = sql ? await countBookings(sql) : 0;
  around?.before();
  const load = await runLoad(tool, spec, repoRoot);
  around?.after();
  if (!sql) return { load };
  return { load, check: await checkWrites(sql, rowsBefore, load, spec.connections) };
}

/**
 * Several load generators started together, one per target (bench:scaling --hosts), with the
 * same reset, CPU readings and SQL check around them as `measure`; the check compares the rows
 * written with the 201s of all of them, and allows one cut-off answer per connection of any.
 */
export async function measureSpread(tool: Tool, specs: LoadSpec[], repoRoot: string, sql: Sql, around?: Around)
  : Promise<{ loads: LoadResult[]; load: LoadResult; check: Check }> {
  await resetBookings(sql);
  const rowsBefore = await countBookings(sql);
  around?.before();
  const loads = await Promise.all(specs.map((spec) => runLoad(tool, spec, repoRoot)));
  around?.after();
  const load = combineLoads(loads);
  return { loads, load, check: await checkWrites(sql, rowsBefore, load, sum(specs.map((spec) => spec.connections))) };
}

async function checkWrites(sql: Sql, rowsBefore: number, load: LoadResult, connections: number): Promise<Check> {
  const rowsAfter = await settledCount(sql);
  const written = rowsAfter - rowsBefore;
  const created = load.statuses['201'] ?? 0;
  const doubleBooked = await doubleBookedSlots(sql);
  return { rowsBefore, rowsAfter, written, created, doubleBooked, verdict: verdictOf(written, created, doubleBooked, connections) };
}

/** A 201 without its row, a row that no cut-off explains, or a (room, day) booked twice: MISMATCH. */
export function verdictOf(written: number, created: number, doubleBooked: number, connections: number): Check['verdict'] {
  const gap = written - created;
  return doubleBooked > 0 || gap < 0 || gap > connections ? 'MISMATCH' : gap === 0 ? 'exact' : 'cut-off';
}

/** The runs whose SQL check failed, warm-up included (a double booking there is one all the same). */
export function failedChecks(records: RunRecord[]): string[] {
  return records.filter((record) => record.check?.verdict === 'MISMATCH').map(({ scenario, run, check }) =>
    `${scenario} ${run === 0 ? 'warm-up' : `run ${run}`}: ${check!.created} 201s, ${check!.written} rows written, ` +
    `${check!.doubleBooked} (room, day) booked twice`);
}

/**
 * A failed check fails the command (exit code 1) after the figures are written: a bench whose
 * answers the database does not bear out has measured a bug, not a speed.
 */
export function failOnChecks(failed: string[]): void {
  if (failed.length === 0) return;
  process.stderr.write(`SQL check FAILED (201s seen against rows written, or a (room, day) booked twice):\n${failed.map((line) => `- ${line}\n`).join('')}`);
  process.exitCode = 1;
}

/**
 * The sum of load generators that ran side by side: requests, statuses, errors and CPU added up,
 * req/s the sum of each one's own req/s, the duration the longest. wrk gives percentiles, not its
 * histogram, so they cannot be merged: each latency figure is the worst of them (mean: weighted).
 */
export function combineLoads(loads: LoadResult[]): LoadResult {
  if (loads.length === 1) return loads[0];
  const statuses: Record<string, number> = {};
  for (const load of loads) for (const [status, count] of Object.entries(load.statuses)) statuses[status] = (statuses[status] ?? 0) + count;
  const requests = sum(loads.map((load) => load.requests));
  const worst = (key: 'p50' | 'p90' | 'p99' | 'max') => Math.max(...loads.map((load) => load.latencyMs[key]));
  const errors = (key: keyof LoadResult['socketErrors']) => sum(loads.map((load) => load.socketErrors[key]));
  const warnings = loads.map((load) => load.warning).filter(Boolean);
  return {
    tool: loads[0].tool,
    command: loads.map((load) => load.command).join(' & '),
    requests,
    durationS: Math.max(...loads.map((load) => load.durationS)),
    requestsPerSecond: sum(loads.map((load) => load.requestsPerSecond)),
    latencyMs: { mean: sum(loads.map((load) => load.latencyMs.mean * load.requests)) / Math.max(1, requests),
      p50: worst('p50'), p90: worst('p90'), p99: worst('p99'), max: worst('max') },
    statuses,
    socketErrors: { connect: errors('connect'), read: errors('read'), write: errors('write'), timeout: errors('timeout') },
    // autocannon runs in this process: each instance read the whole process's CPU over the same time.
    loadGeneratorCpuS: loads[0].tool === 'autocannon' ? Math.max(...loads.map((load) => load.loadGeneratorCpuS)) : sum(loads.map((load) => load.loadGeneratorCpuS)),
    warning: warnings.length ? warnings.join('; ') : undefined,
  };
}

/** Statements still running when the load stopped commit a moment later: wait until the count holds. */
async function settledCount(sql: Sql): Promise<number> {
  let previous = -1;
  for (let i = 0; i < 50; i++) {
    const count = await countBookings(sql);
    if (count === previous) return count;
    previous = count;
    await sleep(100);
  }
  return previous;
}

/** The medians of a scenario's measured runs (warm-up left out); error counts are totals. */
export interface Summary {
  runs: number;
  requestsPerSecond: number;
  latencyMeanMs: number;
  latencyP99Ms: number;
  share2xx: number;
  share409: number;
  serverErrors: number; // 5xx, all runs
  socketErrors: number; // connect+read+write+timeout, all runs
  bookingsPerSecond: number; // rows written / duration (roombook only)
  loadGeneratorCpuS: number;
  /** CPU microseconds per request (medians): the server, PostgreSQL, the load generator. */
  cpuPerRequestUs: { server: number; postgres: number; loadGenerator: number };
  meanBatchSize: number;
  meanStatementMs: number;
  shareRanOut: number; // statements whose gather wait ran out
  workerPeakRssMb: number; // the largest worker's peak RSS over the runs, warm-up included
  checks: string; // "3 exact", "2 exact, 1 cut-off", ...
}

export function summarise(records: RunRecord[]): Summary {
  const runs = records.filter((record) => record.run > 0);
  const share = (record: RunRecord, test: (status: number) => boolean) =>
    sum(Object.entries(record.load.statuses).filter(([status]) => test(Number(status))).map(([, count]) => count)) /
    Math.max(1, record.load.requests);
  const verdicts = new Map<string, number>();
  for (const record of runs) if (record.check) verdicts.set(record.check.verdict, (verdicts.get(record.check.verdict) ?? 0) + 1);
  return {
    runs: runs.length,
    requestsPerSecond: median(runs.map((r) => r.load.requestsPerSecond)),
    latencyMeanMs: median(runs.map((r) => r.load.latencyMs.mean)),
    latencyP99Ms: median(runs.map((r) => r.load.latencyMs.p99)),
    share2xx: median(runs.map((r) => share(r, (status) => status >= 200 && status < 300))),
    share409: median(runs.map((r) => share(r, (status) => status === 409))),
    serverErrors: sum(runs.map((r) => sum(Object.entries(r.load.statuses).filter(([s]) => Number(s) >= 500).map(([, n]) => n)))),
    socketErrors: sum(runs.map((r) => sum(Object.values(r.load.socketErrors)))),
    bookingsPerSecond: median(runs.map((r) => (r.check ? r.check.written / r.load.durationS : NaN))),
    loadGeneratorCpuS: median(runs.map((r) => r.load.loadGeneratorCpuS)),
    cpuPerRequestUs: {
      server: median(runs.map((r) => ((r.cpu?.server ?? NaN) / r.load.requests) * 1e6)),
      postgres: median(runs.map((r) => ((r.cpu?.postgres ?? NaN) / r.load.requests) * 1e6)),
      loadGenerator: median(runs.map((r) => (r.load.loadGeneratorCpuS / r.load.requests) * 1e6)),
    },
    meanBatchSize: median(runs.map((r) => r.batches?.meanBatchSize ?? NaN)),
    meanStatementMs: median(runs.map((r) => r.batches?.meanStatementMs ?? NaN)),
    shareRanOut: median(runs.map((r) => r.batches?.shareRanOut ?? NaN)),
    workerPeakRssMb: Math.max(...records.map((r) => r.workerPeakRssMb ?? NaN)),
    checks: [...verdicts].map(([verdict, count]) => `${count} ${verdict}`).join(', ') || '–',
  };
}
