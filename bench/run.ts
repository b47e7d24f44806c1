import os from 'node:os';
import path from 'node:path';
import { parseOptions, usageError } from './lib/args';
import { createBenchDatabase, serverSettings, type BenchDatabase } from './lib/database';
import { stopOnInterrupt, wasInterrupted } from './lib/interrupt';
import { wrkCommand, wrkInstalled, type Tool, type Workload } from './lib/load';
import { describeMachine, machine } from './lib/machine';
import { batchFigures, readBatchCounters } from './lib/metrics';
import { failedChecks, failOnChecks, measure, summarise, type RunRecord } from './lib/measure';
import { allStats, busyProcesses, peakRssMb, treeCpuSeconds } from './lib/proc';
import { commandLine, report, type ScenarioResult } from './lib/report';
import { postmasterPid, startRoombook, stopRoombook, tuning, workersAsRun, type Roombook } from './lib/roombook';
import { startServer, type RunningServer } from './lib/servers';
import { median } from './lib/stats';

/**
 * npm run bench: roombook against the original project's wrk script and a fresh-booking
 * workload, with the ceiling server (no database) under the same script as the baseline in the
 * same run. Runs are interleaved (every scenario once, then again) so drift hits all alike.
 */
const repoRoot = path.resolve(__dirname, '..', '..');
const options = parseOptions(process.argv.slice(2), {
  duration: { value: 10, help: 'seconds per measured run', min: 1, whole: true },
  runs: { value: 3, help: 'measured runs per scenario; the median is reported', min: 1, whole: true },
  warmup: { value: 5, help: 'seconds of the warm-up run per scenario, discarded (0: none)', whole: true },
  only: { value: '', help: 'comma-separated scenario ids to run (original-c15, original-c64, ceiling-c64, fresh-c64; ' +
    'and, only when named, past-c64, one-slot-c64 and booked-c64, which take the database\'s work apart: bench/README.md)' },
  tool: { value: '', help: 'wrk or autocannon (default: wrk when installed)', choices: ['wrk', 'autocannon'] },
  rooms: { value: 10000, help: 'rooms ROOM1..ROOMn seeded for the fresh workload', min: 1, whole: true },
  users: { value: 1000, help: 'users user1..userN seeded', min: 1, whole: true },
  'keep-bookings': { value: false, help: 'do not empty the bookings table before each roombook run' },
  'wal-mb': { value: 512, help: 'MB of WAL written and checkpointed before the runs, so WAL files are reused as on a running server (0: none)' },
}, 'npm run bench -- [options]   (roombook settings such as WORKERS or DB_POOL_SIZE come from the environment;\n' +
  'DATABASE_URL: create a throwaway database on that server instead of using the embedded PostgreSQL)');

interface Scenario {
  id: string;
  label: string;
  target: 'roombook' | 'ceiling';
  workload: Workload;
  threads: number;
  connections: number;
  onlyWhenNamed?: boolean; // a diagnosis, not a figure of the default run
}
const SCENARIOS: Scenario[] = [
  { id: 'original-c15', label: 'original script', target: 'roombook', workload: 'post_book', threads: 4, connections: 15 },
  { id: 'original-c64', label: 'original script', target: 'roombook', workload: 'post_book', threads: 4, connections: 64 },
  { id: 'ceiling-c64', label: 'original script', target: 'ceiling', workload: 'post_book', threads: 4, connections: 64 },
  { id: 'fresh-c64', label: 'fresh bookings', target: 'roombook', workload: 'fresh_bookings', threads: 4, connections: 64 },
  { id: 'past-c64', label: 'dates in the past (no database)', target: 'roombook', workload: 'past_date', threads: 4, connections: 64,
    onlyWhenNamed: true },
  { id: 'one-slot-c64', label: 'one slot (one row per batch)', target: 'roombook', workload: 'one_slot', threads: 4, connections: 64,
    onlyWhenNamed: true },
  { id: 'booked-c64', label: '300 booked days (all conflicts)', target: 'roombook', workload: 'booked_days', threads: 4,
    connections: 64, onlyWhenNamed: true },
];

function chosenScenarios(only: string): Scenario[] {
  if (only === '') return SCENARIOS.filter((s) => !s.onlyWhenNamed);
  const ids = only.split(',');
  const unknown = ids.filter((id) => !SCENARIOS.some((s) => s.id === id));
  if (unknown.length > 0) usageError(`--only: no scenario ${unknown.join(', ')} (${SCENARIOS.map((s) => s.id).join(', ')})`);
  return SCENARIOS.filter((s) => ids.includes(s.id));
}

const progress = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<void> {
  const scenarios = chosenScenarios(options.only);
  if (options.tool === 'wrk' && !wrkInstalled()) usageError('--tool wrk: wrk is not installed (apt-get install wrk)');
  const tool: Tool = options.tool === 'autocannon' || (options.tool === '' && !wrkInstalled()) ? 'autocannon' : 'wrk';
  if (tool === 'autocannon') {
    progress(options.tool ? 'load generator: autocannon (asked for)' :
      'wrk is not installed (apt-get install wrk): falling back to autocannon; its figures are not comparable with wrk\'s');
  }
  const started = new Date();
  const host = machine(repoRoot);
  const noise = await busyProcesses(1000, [process.pid]);
  const reset = !options['keep-bookings'];
  let database: BenchDatabase | undefined;
  let roombook: Roombook | undefined;
  let ceiling: RunningServer | undefined;
  let stopping: Promise<void> | undefined; // once: an interrupt and main's finally may both ask
  const cleanup = () => (stopping ??= (async () => {
    await stopRoombook(roombook);
    await ceiling?.stop();
    await database?.dispose();
  })());
  stopOnInterrupt(cleanup);

  try {
    database = await createBenchDatabase(process.env.DATABASE_URL || undefined);
    progress(`database: ${database.description}`);
    const needsRoombook = scenarios.some((s) => s.target === 'roombook');
    if (needsRoombook) {
      progress('starting roombook and seeding rooms and users ...');
      roombook = await startRoombook(repoRoot, database, { rooms: options.rooms, users: options.users }, {}, [], options['wal-mb']);
      progress(`database WAL: ${roombook.wal}`);
    }
    const workers = roombook?.workers ?? Number(process.env.WORKERS || os.availableParallelism());
    if (scenarios.some((s) => s.target === 'ceiling')) {
      ceiling = await startServer('ceiling', path.join(repoRoot, 'dist', 'bench', 'ceiling-server.js'),
        { PORT: '0', WORKERS: String(workers) }, 'ceiling listening');
    }
    const pgSettings = roombook ? await serverSettings(roombook.sql) : {};
    host.postgres = pgSettings.server_version;
    // CPU readings around every load: each server's process tree, PostgreSQL's apart.
    const postmaster = roombook ? await postmasterPid(roombook, database, roombook.sql) : 0;
    const metricsUrl = typeof roombook?.server.ready.metricsPort === 'number'
      ? `http://127.0.0.1:${roombook.server.ready.metricsPort}/metrics` : undefined;
    const trees = {
      ...(roombook && { roombook: { root: roombook.server.pid, excluded: [postmaster] }, postgres: { root: postmaster } }),
      ...(ceiling && { ceiling: { root: ceiling.pid } }),
    };

    const records: RunRecord[] = [];
    const rounds = [...(options.warmup > 0 ? [0] : []), ...Array.from({ length: options.runs }, (_, i) => i + 1)];
    const total = rounds.length * scenarios.length;
    let step = 0;
    let freshBase = 0;
    for (const run of rounds) {
      for (const scenario of scenarios) {
        const server = scenario.target === 'roombook' ? roombook!.server : ceiling!;
        const durationS = run === 0 ? options.warmup : options.duration;
        const spec = {
          workload: scenario.workload, url: server.url, threads: scenario.threads, connections: scenario.connections, durationS,
          scriptArgs: scenario.workload === 'fresh_bookings'
            ? { rooms: options.rooms, users: options.users, base: reset ? 0 : freshBase, threads: scenario.threads } : undefined,
        };
        progress(`[${String(++step).padStart(2)}/${total}] ${scenario.id} ${run === 0 ? 'warm-up (discarded)' : `run ${run}/${options.runs}`}, ${durationS} s ...`);
        const countersBefore = scenario.target === 'roombook' ? await readBatchCounters(metricsUrl) : undefined;
        let before: Record<string, number> = {};
        let after: Record<string, number> = {};
        const { load, check } = await measure(tool, spec, repoRoot, scenario.target === 'roombook' ? roombook!.sql : undefined, reset, {
          before: () => { before = treeCpuSeconds(trees); },
          after: () => { after = treeCpuSeconds(trees); },
        });
        const used = (tree: string) => after[tree] - before[tree];
        const cpu = scenario.target === 'roombook'
          ? { server: used('roombook'), postgres: used('postgres'), loadGenerator: load.loadGeneratorCpuS }
          : { server: used('ceiling'), loadGenerator: load.loadGeneratorCpuS };
        if (load.nextBase !== undefined) freshBase = load.nextBase;
        if (load.warning) progress(`        warning: ${load.warning}`);
        const batches = scenario.target === 'roombook' ? batchFigures(countersBefore, await readBatchCounters(metricsUrl)) : undefined;
        const workerPeakRssMb = scenario.target === 'roombook' ? largestWorkerPeakRss(roombook!.server.pid) : undefined;
        records.push({ scenario: scenario.id, run, load, check, cpu, batches, workerPeakRssMb });
        progress(`        ${Math.round(load.requestsPerSecond).toLocaleString('en-US')} req/s, p99 ${load.latencyMs.p99.toFixed(2)} ms, ` +
          `statuses ${JSON.stringify(load.statuses)}${check ? `, ${check.written} rows written (${check.verdict})` : ''}` +
          `${batches ? `; batches of ${batches.meanBatchSize.toFixed(1)}, ${batches.meanStatementMs.toFixed(2)} ms each` : ''}`);
      }
    }

    const ceilingRuns = new Map(records.filter((r) => r.scenario === 'ceiling-c64').map((r) => [r.run, r.load.requestsPerSecond]));
    const results: ScenarioResult[] = scenarios.map((scenario) => {
      const own = records.filter((r) => r.scenario === scenario.id);
      const ratios = own.filter((r) => r.run > 0 && ceilingRuns.has(r.run)).map((r) => r.load.requestsPerSecond / ceilingRuns.get(r.run)!);
      const sample = own.find((r) => r.run > 0) ?? own[0];
      return {
        ...scenario, server: scenario.target, summary: summarise(own), vsCeiling: median(ratios),
        command: tool === 'wrk' ? wrkCommand({
          workload: scenario.workload, url: 'http://127.0.0.1:PORT', threads: scenario.threads,
          connections: scenario.connections, durationS: options.duration,
          scriptArgs: scenario.workload === 'fresh_bookings' ? { rooms: options.rooms, users: options.users, threads: scenario.threads } : undefined,
        }, repoRoot) : sample.load.command,
      };
    });
    await report({
      repoRoot, started, command: commandLine('bench', process.argv.slice(2)),
      options: { ...options }, tool, machine: host, machineText: describeMachine(host),
      database: roombook ? `${database.description}; ${roombook.wal}` : database.description,
      postgresTree: database.kind === 'server' ? 'the whole server (other databases\' work included)' : 'the embedded server',
      postgresSettings: pgSettings, roombookSettings: tuning(roombook ? workersAsRun(roombook.workers) : {}), noise, results, records,
    });
    failOnChecks(failedChecks(records));
  } finally {
    progress('stopping servers ...');
    await cleanup();
  }
}

/** The workers are the primary's node children (the embedded postmaster is its other child). */
function largestWorkerPeakRss(primary: number): number {
  const workers = [...allStats().values()].filter((stat) => stat.ppid === primary && stat.comm === 'node');
  return Math.max(...workers.map((stat) => peakRssMb(stat.pid) ?? NaN));
}

main().catch((error) => {
  if (wasInterrupted()) return; // the interrupt stops the servers and exits; the load it stopped is no failure
  process.stderr.write(`bench failed: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
