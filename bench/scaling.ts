import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseOptions, usageError } from './lib/args';
import { createBenchDatabase, serverSettings, sharedDatabase, type BenchDatabase } from './lib/database';
import { stopOnInterrupt, wasInterrupted } from './lib/interrupt';
import { freshBookingsSpec, wrkCommand, wrkInstalled, type LoadResult, type LoadSpec, type Tool } from './lib/load';
import { describeMachine, machine } from './lib/machine';
import { failOnChecks, measure, measureSpread } from './lib/measure';
import { busyProcesses, machineBusySeconds, treeCpuSeconds } from './lib/proc';
import { commandLine } from './lib/report';
import { postmasterPid, startRoombook, stopRoombook, tuning, type Roombook } from './lib/roombook';
import { scalingSvg } from './lib/scaling-chart';
import { sharedMaxConnections, workerCounts } from './lib/shared-cluster';
import { formatCount, markdownTable, median, sum } from './lib/stats';

/**
 * npm run bench:scaling: the fresh-booking workload against roombook with WORKERS = 1..cores,
 * and the CPU seconds each part used while it ran (roombook's primary and workers, PostgreSQL,
 * the load generator, read from /proc): requests per worker-CPU-second show whether a worker
 * gets slower when there are more of them, or only gets less CPU.
 *
 * With --hosts N: N independent roombooks (each its own primary with --workers-per-host workers,
 * own ports, one shared database), and for 1..N hosts the load split over that many of them, one
 * wrk per host started together (hostsMain below).
 */
const repoRoot = path.resolve(__dirname, '..', '..');
const options = parseOptions(process.argv.slice(2), {
  duration: { value: 10, help: 'seconds per measured run', min: 1, whole: true },
  runs: { value: 3, help: 'measured runs per worker count (host count with --hosts); medians are reported', min: 1, whole: true },
  warmup: { value: 5, help: 'seconds of the warm-up run per worker count (host count), discarded (0: none)', whole: true },
  'max-workers': { value: os.availableParallelism(), help: 'largest worker count (counts measured: 1..8, then doubling, and this one)', min: 1, whole: true },
  threads: { value: 4, help: 'wrk threads (with --hosts: in all, split over the hosts\' wrk processes, at least 1 each)', min: 1, whole: true },
  connections: { value: 64, help: 'connections (with --hosts: in all, split over the hosts)', min: 1, whole: true },
  'connections-per-worker': { value: 0, help: 'instead of --connections: this many per worker (the same load per worker at every count; not with --hosts)', whole: true },
  rooms: { value: 10000, help: 'rooms seeded', min: 1, whole: true },
  users: { value: 1000, help: 'users seeded', min: 1, whole: true },
  tool: { value: '', help: 'wrk or autocannon (default: wrk when installed)', choices: ['wrk', 'autocannon'] },
  hosts: { value: 0, help: 'hosts mode: N roombook instances (separate primaries, ports and metrics ports, one database); for 1..N hosts, ' +
    'one wrk per host with the threads and connections split between them, started together and summed; writes results/scaling-hosts.*', whole: true },
  'workers-per-host': { value: 1, help: 'with --hosts: WORKERS of each roombook instance', min: 1, whole: true },
}, 'npm run bench:scaling -- [options]   (DATABASE_URL: use a throwaway database on that server; its whole postmaster is measured)\n' +
  'npm run bench:scaling -- --hosts N [--workers-per-host W] [options]   (the load spread over 1..N roombook instances; --max-workers does not apply)');

/** CPU seconds in one run; other: the machine's busy time that none of ours used (other work on a shared machine). */
interface Cpu { roombook: number; postgres: number; loadGenerator: number; machine: number; other: number }
interface ScalingRun { run: number; requests: number; durationS: number; requestsPerSecond: number; bookingsPerSecond: number; p99Ms: number; cpu: Cpu; verdict?: string }
export interface ScalingPoint {
  workers: number;
  runs: ScalingRun[];
  requestsPerSecond: number;
  bookingsPerSecond: number;
  p99Ms: number;
  cpuSecondsPerRun: Cpu; // medians
  cpuSecondsPer10kRequests: Omit<Cpu, 'machine' | 'other'>; // medians over runs of CPU / requests
  requestsPerWorkerCpuSecond: number;
  throughputEfficiency: number; // req/s(w) / (w * req/s(1))
  cpuEfficiency: number; // requests per worker-CPU-second(w) / the same at 1 worker
}

const progress = (line: string) => process.stderr.write(`${line}\n`);
const servers: Roombook[] = []; // stopped at the end, and on SIGINT/SIGTERM
const counts = workerCounts(options['max-workers']);
let walNote = ''; // how the shared database's WAL was prepared (the first roombook did it)

/**
 * One roombook per worker count, all running at once on one database (the first one's embedded
 * PostgreSQL, sized for all of them, or the DATABASE_URL one), so that runs can be interleaved:
 * round after round, every worker count in turn, and drift on a shared machine hits them all
 * alike. An idle roombook only wakes for its listener's ping every few seconds.
 */
async function startAll(database: BenchDatabase): Promise<{ postmaster: number; pgSettings: Record<string, string> }> {
  const seedCounts = { rooms: options.rooms, users: options.users };
  const maxConnections = String(sharedMaxConnections(sum(counts)));
  let shared: BenchDatabase | undefined;
  let postmaster = 0;
  for (const workers of counts) {
    progress(`starting roombook with WORKERS=${workers} ...`);
    const roombook = await startRoombook(repoRoot, shared ?? database, seedCounts,
      { WORKERS: String(workers), ...(shared ? {} : { EMBEDDED_PG_MAX_CONNECTIONS: maxConnections }) });
    servers.push(roombook);
    if (!shared) {
      shared = sharedDatabase(database.fullUrl(String(roombook.server.ready.database)));
      postmaster = await postmasterPid(roombook, database, roombook.sql);
      walNote = roombook.wal;
    }
  }
  return { postmaster, pgSettings: await serverSettings(servers[0].sql) };
}

async function runOnce(roombook: Roombook, postmaster: number, durationS: number, tool: Tool): Promise<ScalingRun & { label: string }> {
  const trees = { roombook: { root: roombook.server.pid, excluded: [postmaster] }, postgres: { root: postmaster } };
  let before: Record<string, number> = {};
  let after: Record<string, number> = {};
  const { load, check } = await measure(tool, spec(roombook.server.url, durationS, connectionsFor(roombook.workers)), repoRoot, roombook.sql, true, {
    before: () => { before = { ...treeCpuSeconds(trees), machine: machineBusySeconds() }; },
    after: () => { after = { ...treeCpuSeconds(trees), machine: machineBusySeconds() }; },
  });
  const cpu: Cpu = { roombook: after.roombook - before.roombook, postgres: after.postgres - before.postgres,
    loadGenerator: load.loadGeneratorCpuS, machine: after.machine - before.machine, other: 0 };
  cpu.other = Math.max(0, cpu.machine - cpu.roombook - cpu.postgres - cpu.loadGenerator);
  const bookingsPerSecond = (check?.written ?? 0) / load.durationS;
  const label = `${formatCount(load.requestsPerSecond)} req/s, ${formatCount(bookingsPerSecond)} bookings/s; CPU s: roombook ${cpu.roombook.toFixed(1)}, ` +
    `postgres ${cpu.postgres.toFixed(1)}, load generator ${cpu.loadGenerator.toFixed(1)}, others ${cpu.other.toFixed(1)}; check ${check?.verdict}`;
  return { label, run: 0, requests: load.requests, durationS: load.durationS, requestsPerSecond: load.requestsPerSecond,
    bookingsPerSecond, p99Ms: load.latencyMs.p99, cpu, verdict: check?.verdict };
}

function point(workers: number, runs: ScalingRun[]): ScalingPoint {
  const cpuMedian = (key: keyof Cpu) => median(runs.map((r) => r.cpu[key]));
  const per10k = (key: keyof Cpu) => median(runs.map((r) => (r.cpu[key] / r.requests) * 10000));
  return {
    workers, runs,
    requestsPerSecond: median(runs.map((r) => r.requestsPerSecond)),
    bookingsPerSecond: median(runs.map((r) => r.bookingsPerSecond)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    cpuSecondsPerRun: { roombook: cpuMedian('roombook'), postgres: cpuMedian('postgres'), loadGenerator: cpuMedian('loadGenerator'),
      machine: cpuMedian('machine'), other: cpuMedian('other') },
    cpuSecondsPer10kRequests: { roombook: per10k('roombook'), postgres: per10k('postgres'), loadGenerator: per10k('loadGenerator') },
    requestsPerWorkerCpuSecond: median(runs.map((r) => r.requests / r.cpu.roombook)),
    throughputEfficiency: NaN,
    cpuEfficiency: NaN,
  };
}

/** Connections for a roombook of `workers` workers: fixed, or proportional with --connections-per-worker. */
const connectionsFor = (workers: number): number =>
  options['connections-per-worker'] > 0 ? options['connections-per-worker'] * workers : options.connections;

const spec = (url: string, durationS: number, connections = options.connections): LoadSpec =>
  freshBookingsSpec(url, durationS, { threads: options.threads, connections, rooms: options.rooms, users: options.users });

/**
 * What both modes do first: check the counts, pick the load tool, read the machine and what else
 * is busy, and make sure an interrupted run stops every server and drops its database.
 */
async function beginRun(autocannonNote: string) {
  if (options.tool === 'wrk' && !wrkInstalled()) usageError('--tool wrk: wrk is not installed (apt-get install wrk)');
  const tool: Tool = options.tool === 'autocannon' || (options.tool === '' && !wrkInstalled()) ? 'autocannon' : 'wrk';
  if (tool === 'autocannon') progress(`wrk is not installed or not chosen: using autocannon, which runs in this process; ${autocannonNote}`);
  const started = new Date();
  const host = machine(repoRoot);
  const noise = await busyProcesses(1000, [process.pid]);
  let database: BenchDatabase | undefined;
  let stopping: Promise<void> | undefined; // once: an interrupt and main's finally may both ask
  const stopAll = () => (stopping ??= (async () => {
    for (const roombook of servers.splice(0).reverse()) await stopRoombook(roombook); // the first holds the embedded PostgreSQL
    await database?.dispose();
  })());
  stopOnInterrupt(stopAll);
  const openDatabase = async (): Promise<BenchDatabase> => {
    database = await createBenchDatabase(process.env.DATABASE_URL || undefined);
    progress(`database: ${database.description}`);
    return database;
  };
  return { tool, started, host, noise, stopAll, openDatabase };
}

async function main(): Promise<void> {
  if (options.hosts > 0) return hostsMain();
  const { tool, started, host, noise, stopAll, openDatabase } = await beginRun('its CPU is the load generator\'s');
  let database: BenchDatabase | undefined;
  const runsByWorkers = new Map<number, ScalingRun[]>();
  let pgSettings: Record<string, string> = {};
  try {
    database = await openDatabase();
    const cluster = await startAll(database);
    pgSettings = cluster.pgSettings;
    const rounds = [...(options.warmup > 0 ? [0] : []), ...Array.from({ length: options.runs }, (_, i) => i + 1)];
    let step = 0;
    for (const run of rounds) {
      for (const roombook of servers) {
        const durationS = run === 0 ? options.warmup : options.duration;
        progress(`[${String(++step).padStart(2)}/${rounds.length * servers.length}] WORKERS=${roombook.workers} ` +
          `${run === 0 ? 'warm-up (discarded)' : `run ${run}/${options.runs}`}, ${durationS} s ...`);
        const { label, ...result } = await runOnce(roombook, cluster.postmaster, durationS, tool);
        progress(`        ${label}`);
        if (run > 0) runsByWorkers.set(roombook.workers, [...(runsByWorkers.get(roombook.workers) ?? []), { ...result, run }]);
      }
    }
  } finally {
    progress('stopping servers ...');
    await stopAll();
  }
  const points = [...runsByWorkers].map(([workers, runs]) => point(workers, runs));
  host.postgres = pgSettings.server_version;
  const one = points[0];
  for (const point of points) {
    point.throughputEfficiency = point.requestsPerSecond / (point.workers * one.requestsPerSecond);
    point.cpuEfficiency = point.requestsPerWorkerCpuSecond / one.requestsPerWorkerCpuSecond;
  }

  const command = commandLine('bench:scaling', process.argv.slice(2));
  const wrk = wrkCommand(spec('http://127.0.0.1:PORT', options.duration, connectionsFor(1)), repoRoot);
  const roombookSettings = tuning({ WORKERS: counts.join(',') });
  const table = markdownTable(
    ['Workers', 'Conns', 'Req/s', 'Bookings/s', 'p99', 'CPU s roombook', 'CPU s postgres', 'CPU s load gen', 'CPU s others', 'Req per worker-CPU-s', 'Throughput eff.', 'CPU eff.'],
    points.map((p) => [String(p.workers), String(connectionsFor(p.workers)), formatCount(p.requestsPerSecond), formatCount(p.bookingsPerSecond), `${p.p99Ms.toFixed(2)} ms`,
      p.cpuSecondsPerRun.roombook.toFixed(1), p.cpuSecondsPerRun.postgres.toFixed(1), p.cpuSecondsPerRun.loadGenerator.toFixed(1),
      p.cpuSecondsPerRun.other.toFixed(1), formatCount(p.requestsPerWorkerCpuSecond),
      `${(p.throughputEfficiency * 100).toFixed(0)} %`, `${(p.cpuEfficiency * 100).toFixed(0)} %`]));
  const text = [
    `# roombook scaling, ${started.toISOString()}`, '', `command: \`${command}\` (load: \`${wrk}\`)`, '```', describeMachine(host),
    `database: ${database!.description}; ${walNote}`, `PostgreSQL settings: ${Object.entries(pgSettings).map(([k, v]) => `${k}=${v}`).join(', ')}`, `roombook settings: ${Object.entries(roombookSettings).map(([k, v]) => `${k}=${v}`).join(', ')}`,
    `other processes busy at start: ${noise.map((p) => `${p.comm} (${Math.round(p.cpu * 100)} %)`).join('; ') || 'none'}`, '```', '', table, '',
    `Medians of ${options.runs} runs of ${options.duration} s per worker count (warm-up of ${options.warmup} s discarded). CPU s: CPU seconds used during one run ` +
      `by roombook's primary and workers, by PostgreSQL's processes, by the load generator, and by everything else on the machine ` +
      `(others; ${host.cores} cores give ${host.cores * options.duration} s per run). All worker counts run at once on one database, and runs are interleaved. Throughput efficiency: req/s over workers × req/s at 1 worker. CPU efficiency: requests per worker-CPU-second over the same at 1 worker.`,
  ].join('\n');
  process.stdout.write(`\n${text}\n`);
  const dir = path.join(repoRoot, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const stamp = started.toISOString().replace(/[:]/g, '').replace(/\..*/, '');
  const file = path.join(dir, `scaling-${stamp}.json`);
  fs.writeFileSync(file, `${JSON.stringify({ started, command, load: wrk, tool, options, machine: host, postgresSettings: pgSettings,
    roombookSettings, noise, points }, null, 2)}\n`);
  // The same load per worker is a study of its own: it must not overwrite the fixed-load figures.
  const name = options['connections-per-worker'] > 0 ? 'scaling-per-worker' : 'scaling';
  fs.writeFileSync(path.join(dir, `${name}.svg`), scalingSvg(points, `${host.cpuModel}, ${host.cores} cores; ${options.duration} s runs, median of ${options.runs}`));
  fs.writeFileSync(path.join(dir, `${name}.md`), `${text}\n\n![scaling](${name}.svg)\n`);
  process.stdout.write(`\nwritten: ${path.relative(repoRoot, file)}, bench/results/${name}.svg, bench/results/${name}.md\n`);
  failOnChecks(mismatches(runsByWorkers, 'WORKERS'));
}

/** The measured runs whose SQL check failed, by worker or host count. */
const mismatches = (runsByCount: Map<number, ScalingRun[]>, what: string): string[] => [...runsByCount]
  .flatMap(([count, runs]) => runs.filter((r) => r.verdict === 'MISMATCH').map((r) => `${what}=${count} run ${r.run}`));

/** --hosts: one run's figures, summed over the wrk processes, and each host's own. */
interface HostsRun extends ScalingRun {
  statuses: Record<string, number>;
  socketErrors: number;
  perHost: { url: string; threads: number; connections: number; requests: number; requestsPerSecond: number; p99Ms: number; statuses: Record<string, number> }[];
  warning?: string;
}
export interface HostsPoint extends Omit<ScalingPoint, 'workers' | 'runs' | 'requestsPerWorkerCpuSecond'> {
  hosts: number;
  workersPerHost: number;
  runs: HostsRun[];
  p99Ms: number; // median over runs of the worst p99 of the hosts' wrk processes
  requestsPerRoombookCpuSecond: number; // requests over the CPU seconds of all loaded roombook trees
  checks: string;
}

const DAYS = 730; // fresh_bookings.lua's default number of days
/** `total` split into `parts` near-equal whole shares, the larger ones first. */
const split = (total: number, parts: number) =>
  Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));

/**
 * The load over `targets` hosts: one wrk each, threads and connections split (each at least one
 * thread, never more threads than connections). Each wrk walks its own share of the slot space
 * (base = i × rooms×days / hosts), so that no two of them ask for the same (room, day).
 */
function hostSpecs(urls: string[], durationS: number): LoadSpec[] {
  const threads = split(options.threads, urls.length);
  const connections = split(options.connections, urls.length);
  const stride = Math.floor((options.rooms * DAYS) / urls.length);
  return urls.map((url, i) => freshBookingsSpec(url, durationS,
    { threads: threads[i], connections: connections[i], rooms: options.rooms, users: options.users, base: i * stride }));
}

async function runHosts(loaded: Roombook[], postmaster: number, durationS: number, tool: Tool): Promise<HostsRun & { label: string }> {
  const trees: Record<string, { root: number; excluded?: number[] }> = { postgres: { root: postmaster } };
  loaded.forEach((roombook, i) => { trees[`roombook${i}`] = { root: roombook.server.pid, excluded: [postmaster] }; });
  const roombookSeconds = (cpu: Record<string, number>) => sum(loaded.map((_, i) => cpu[`roombook${i}`]));
  let before: Record<string, number> = {};
  let after: Record<string, number> = {};
  const specs = hostSpecs(loaded.map((roombook) => roombook.server.url), durationS);
  const { loads, load, check } = await measureSpread(tool, specs, repoRoot, loaded[0].sql, {
    before: () => { before = { ...treeCpuSeconds(trees), machine: machineBusySeconds() }; },
    after: () => { after = { ...treeCpuSeconds(trees), machine: machineBusySeconds() }; },
  });
  const cpu: Cpu = { roombook: roombookSeconds(after) - roombookSeconds(before), postgres: after.postgres - before.postgres,
    loadGenerator: load.loadGeneratorCpuS, machine: after.machine - before.machine, other: 0 };
  cpu.other = Math.max(0, cpu.machine - cpu.roombook - cpu.postgres - cpu.loadGenerator);
  const bookingsPerSecond = check.written / load.durationS;
  const stride = Math.floor((options.rooms * DAYS) / loaded.length);
  const overlap = loads.some((one: LoadResult, i) => one.nextBase !== undefined && one.nextBase - i * stride > stride)
    ? 'a wrk went past its share of the slot space: slots may repeat across hosts (409s)' : undefined;
  const perHost = loads.map((one, i) => ({ url: specs[i].url, threads: specs[i].threads, connections: specs[i].connections,
    requests: one.requests, requestsPerSecond: one.requestsPerSecond, p99Ms: one.latencyMs.p99, statuses: one.statuses }));
  const label = `${formatCount(load.requestsPerSecond)} req/s (${perHost.map((h) => formatCount(h.requestsPerSecond)).join(' + ')}), ` +
    `${formatCount(bookingsPerSecond)} bookings/s; CPU s: roombook ${cpu.roombook.toFixed(1)}, postgres ${cpu.postgres.toFixed(1)}, ` +
    `load generators ${cpu.loadGenerator.toFixed(1)}, others ${cpu.other.toFixed(1)}; statuses ${JSON.stringify(load.statuses)}; check ${check.verdict}` +
    (overlap ? `; ${overlap}` : '');
  return { label, run: 0, requests: load.requests, durationS: load.durationS, requestsPerSecond: load.requestsPerSecond, bookingsPerSecond,
    p99Ms: load.latencyMs.p99, cpu, verdict: check.verdict, statuses: load.statuses, socketErrors: sum(Object.values(load.socketErrors)),
    perHost, warning: overlap };
}

async function hostsMain(): Promise<void> {
  const hosts = options.hosts;
  const workersPerHost = options['workers-per-host'];
  if (hosts > options.connections) usageError('--hosts cannot exceed --connections: each host needs a connection');
  if (options['connections-per-worker'] > 0) usageError('--connections-per-worker does not apply with --hosts (use --connections)');
  if (process.argv.slice(2).some((arg) => arg.startsWith('--max-workers'))) usageError('--max-workers does not apply with --hosts (use --workers-per-host)');
  const { tool, started, host, noise, stopAll, openDatabase } = await beginRun('its instances share one thread');
  let database: BenchDatabase | undefined;
  const runsByHosts = new Map<number, HostsRun[]>();
  let pgSettings: Record<string, string> = {};
  try {
    database = await openDatabase();
    let shared: BenchDatabase | undefined;
    let postmaster = 0;
    for (let i = 1; i <= hosts; i++) {
      progress(`starting roombook host ${i}/${hosts} with WORKERS=${workersPerHost} ...`);
      const roombook = await startRoombook(repoRoot, shared ?? database, { rooms: options.rooms, users: options.users },
        { WORKERS: String(workersPerHost), ...(shared ? {} : { EMBEDDED_PG_MAX_CONNECTIONS: String(sharedMaxConnections(hosts * workersPerHost)) }) });
      servers.push(roombook);
      progress(`        primary pid ${roombook.server.pid}, ${roombook.server.url}`);
      if (!shared) {
        shared = sharedDatabase(database.fullUrl(String(roombook.server.ready.database)));
        postmaster = await postmasterPid(roombook, database, roombook.sql);
        walNote = roombook.wal;
      }
    }
    pgSettings = await serverSettings(servers[0].sql);
    const rounds = [...(options.warmup > 0 ? [0] : []), ...Array.from({ length: options.runs }, (_, i) => i + 1)];
    let step = 0;
    for (const run of rounds) {
      for (let count = 1; count <= hosts; count++) {
        const durationS = run === 0 ? options.warmup : options.duration;
        progress(`[${String(++step).padStart(2)}/${rounds.length * hosts}] ${count} host(s) × WORKERS=${workersPerHost} ` +
          `${run === 0 ? 'warm-up (discarded)' : `run ${run}/${options.runs}`}, ${durationS} s ...`);
        const { label, ...result } = await runHosts(servers.slice(0, count), postmaster, durationS, tool);
        progress(`        ${label}`);
        if (run > 0) runsByHosts.set(count, [...(runsByHosts.get(count) ?? []), { ...result, run }]);
      }
    }
  } catch (error) {
    for (const [i, roombook] of servers.entries()) progress(`host ${i + 1}'s last output:\n${roombook.server.tail()}`);
    throw error;
  } finally {
    progress('stopping servers ...');
    await stopAll();
  }
  host.postgres = pgSettings.server_version;
  const points: HostsPoint[] = [...runsByHosts].map(([count, runs]) => {
    const { workers: _workers, runs: _runs, requestsPerWorkerCpuSecond, ...figures } = point(count, runs);
    const verdicts = new Map<string, number>();
    for (const r of runs) verdicts.set(r.verdict ?? '?', (verdicts.get(r.verdict ?? '?') ?? 0) + 1);
    return { hosts: count, workersPerHost, runs, ...figures, requestsPerRoombookCpuSecond: requestsPerWorkerCpuSecond,
      checks: [...verdicts].map(([verdict, n]) => `${n} ${verdict}`).join(', ') };
  });
  const one = points[0];
  for (const p of points) {
    p.throughputEfficiency = p.requestsPerSecond / (p.hosts * one.requestsPerSecond);
    p.cpuEfficiency = p.requestsPerRoombookCpuSecond / one.requestsPerRoombookCpuSecond;
  }

  const command = commandLine('bench:scaling', process.argv.slice(2));
  const loadText = Array.from({ length: hosts }, (_, n) => n + 1).map((count) =>
    `${count} host(s): ${hostSpecs(Array.from({ length: count }, (_, i) => `http://127.0.0.1:PORT${i + 1}`), options.duration)
      .map((s) => `\`${wrkCommand(s, repoRoot)}\``).join(' & ')}`).join('\n');
  const nonCreated = (p: HostsPoint) => median(p.runs.map((r) => r.requests - (r.statuses['201'] ?? 0)));
  const table = markdownTable(
    ['Hosts', 'Workers', 'Req/s', 'Bookings/s', 'p99 (worst host)', 'Non-201/run', 'CPU s roombook', 'CPU s postgres', 'CPU s load gens', 'CPU s others',
      'Req per roombook-CPU-s', 'Throughput eff.', 'CPU eff.', 'SQL checks'],
    points.map((p) => [String(p.hosts), `${p.hosts} × ${p.workersPerHost}`, formatCount(p.requestsPerSecond), formatCount(p.bookingsPerSecond),
      `${p.p99Ms.toFixed(2)} ms`, formatCount(nonCreated(p)), p.cpuSecondsPerRun.roombook.toFixed(1), p.cpuSecondsPerRun.postgres.toFixed(1),
      p.cpuSecondsPerRun.loadGenerator.toFixed(1), p.cpuSecondsPerRun.other.toFixed(1), formatCount(p.requestsPerRoombookCpuSecond),
      `${(p.throughputEfficiency * 100).toFixed(0)} %`, `${(p.cpuEfficiency * 100).toFixed(0)} %`, p.checks]));
  const text = [
    `# roombook scaling over hosts, ${started.toISOString()}`, '', `command: \`${command}\``, '', 'load (one wrk per host, started together):', '',
    loadText, '```', describeMachine(host),
    `database: ${database!.description}; ${walNote}`, `PostgreSQL settings: ${Object.entries(pgSettings).map(([k, v]) => `${k}=${v}`).join(', ')}`,
    `roombook settings (each host): ${Object.entries(tuning({ WORKERS: String(workersPerHost) })).map(([k, v]) => `${k}=${v}`).join(', ')}`,
    `other processes busy at start: ${noise.map((p) => `${p.comm} (${Math.round(p.cpu * 100)} %)`).join('; ') || 'none'}`, '```', '', table, '',
    `Medians of ${options.runs} runs of ${options.duration} s per host count (warm-up of ${options.warmup} s discarded). Hosts: independent roombook ` +
      `instances on this machine (each its own primary with ${workersPerHost} worker(s), own port and metrics port), all on one database; all ${hosts} run ` +
      `throughout, runs are interleaved, and a run with k hosts loads the first k. Req/s and statuses: the sum of the hosts' wrk processes; p99: the worst ` +
      `of their p99s (wrk's percentiles cannot be merged). CPU s: CPU seconds used during one run by the loaded roombook trees (primaries and workers), ` +
      `by PostgreSQL's processes, by the wrk processes, and by everything else on the machine (others, idle hosts included; ${host.cores} cores give ` +
      `${host.cores * options.duration} s per run). Throughput efficiency: req/s over hosts × req/s at 1 host. CPU efficiency: requests per ` +
      `roombook-CPU-second over the same at 1 host. SQL checks: rows written against the 201s of all hosts, and no (room, day) booked twice.`,
  ].join('\n');
  process.stdout.write(`\n${text}\n`);
  const dir = path.join(repoRoot, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'scaling-hosts.json'), `${JSON.stringify({ started, command, load: loadText, tool, options, machine: host,
    postgresSettings: pgSettings, roombookSettings: tuning({ WORKERS: String(workersPerHost) }), noise, points }, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, 'scaling-hosts.svg'), scalingSvg(points,
    `${host.cpuModel}, ${host.cores} cores; ${workersPerHost} worker(s) per host; ${options.duration} s runs, median of ${options.runs}`, 'hosts'));
  fs.writeFileSync(path.join(dir, 'scaling-hosts.md'), `${text}\n\n![scaling over hosts](scaling-hosts.svg)\n`);
  process.stdout.write('\nwritten: bench/results/scaling-hosts.json, bench/results/scaling-hosts.svg, bench/results/scaling-hosts.md\n');
  failOnChecks(mismatches(runsByHosts, 'hosts'));
}

main().catch((error) => {
  if (wasInterrupted()) return; // the interrupt stops the servers and exits; the load it stopped is no failure
  process.stderr.write(`bench:scaling failed: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
