import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { parseStat, ticksPerSecond } from './proc';
import { bodyStream, type StreamName } from './streams';

/**
 * Runs one load test: wrk with our Lua scripts (bench/lua/), or autocannon's programmatic API with
 * the same request streams (bench/lib/streams.ts) where wrk is not installed. Both report the
 * same fields; autocannon is one Node.js thread and far slower, so its figures are not wrk's.
 */
export type Workload = StreamName; // the name of a script in bench/lua/
export type Tool = 'wrk' | 'autocannon';

export interface LoadSpec {
  workload: Workload;
  url: string; // http://127.0.0.1:PORT
  threads: number;
  connections: number;
  durationS: number;
  scriptArgs?: Record<string, number>; // fresh_bookings: rooms, users, days, base, threads
}

export interface LoadResult {
  tool: Tool;
  command: string;
  requests: number;
  durationS: number;
  requestsPerSecond: number;
  latencyMs: { mean: number; p50: number; p90: number; p99: number; max: number };
  statuses: Record<string, number>;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  loadGeneratorCpuS: number;
  nextBase?: number;
  warning?: string;
}

export const luaDir = (repoRoot: string): string => path.join(repoRoot, 'bench', 'lua');

/**
 * A fresh_bookings load. wrk runs at most one thread per connection, and the script is told the
 * threads wrk runs: thread t of T sends slots base + k·T + t (bench/lua/fresh_bookings.lua), and
 * warns that slots may repeat when its `threads` is not wrk's -t.
 */
export function freshBookingsSpec(url: string, durationS: number,
  load: { threads: number; connections: number; rooms: number; users: number; base?: number }): LoadSpec {
  const threads = Math.max(1, Math.min(load.threads, load.connections));
  return { workload: 'fresh_bookings', url, threads, connections: load.connections, durationS,
    scriptArgs: { rooms: load.rooms, users: load.users, threads, ...(load.base !== undefined && { base: load.base }) } };
}

export function wrkInstalled(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (error) {
    return typeof (error as { status?: unknown }).status === 'number'; // wrk --version exits 1, but it ran
  }
}

export function runLoad(tool: Tool, spec: LoadSpec, repoRoot: string): Promise<LoadResult> {
  if (!spec.url.startsWith('http://127.0.0.1:')) throw new Error(`refusing to load ${spec.url}: only 127.0.0.1 is a target`);
  return tool === 'wrk' ? runWrk(spec, repoRoot) : runAutocannon(spec);
}

function wrkArgs(spec: LoadSpec, repoRoot: string): string[] {
  const args = [`-t${spec.threads}`, `-c${spec.connections}`, `-d${spec.durationS}s`,
    '-s', path.join(luaDir(repoRoot), `${spec.workload}.lua`), spec.url];
  const scriptArgs = Object.entries(spec.scriptArgs ?? {}).map(([key, value]) => `${key}=${value}`);
  return scriptArgs.length ? [...args, '--', ...scriptArgs] : args;
}

/** The command as a person would type it from the repository root. */
export function wrkCommand(spec: LoadSpec, repoRoot: string): string {
  return ['wrk', ...wrkArgs(spec, repoRoot).map((arg) => (arg.startsWith(repoRoot) ? path.relative(repoRoot, arg) : arg))].join(' ');
}

/** The wrk shells running now, each the leader of its own process group (stopLoads). */
const runningLoads = new Set<ChildProcess>();

/** Stops every wrk still running, with its shell: an interrupted run must not leave one behind. */
export function stopLoads(): void {
  for (const child of runningLoads) {
    try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* gone already */ }
  }
}

/**
 * wrk runs under a shell that prints its own /proc stat after wrk exits: the shell has reaped
 * wrk by then, so its cutime+cstime are wrk's CPU time (all of wrk's threads). The shell leads a
 * process group of its own, so that stopLoads can stop wrk with it (killing the shell alone would
 * leave wrk running to the end of its -d).
 */
function runWrk(spec: LoadSpec, repoRoot: string): Promise<LoadResult> {
  const shell = 'wrk "$@"; code=$?; cat /proc/$$/stat >&2; exit $code';
  const child = spawn('sh', ['-c', shell, 'sh', ...wrkArgs(spec, repoRoot)], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  runningLoads.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const limit = setTimeout(() => child.kill('SIGKILL'), (spec.durationS + 30) * 1000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      runningLoads.delete(child);
      clearTimeout(limit);
      const resultLine = stdout.split('\n').find((line) => line.includes('"kind":"wrk-result"'));
      if (code !== 0 || !resultLine) {
        reject(new Error(`wrk failed (exit ${code}):\n${stdout}\n${stderr}`));
        return;
      }
      const result = JSON.parse(resultLine);
      const statLine = stderr.split('\n').find((line) => /^\d+ \(/.test(line));
      const shellStat = statLine ? parseStat(statLine) : undefined;
      const durationS = result.duration_us / 1e6;
      const us = result.latency_us;
      resolve({
        tool: 'wrk',
        command: wrkCommand(spec, repoRoot),
        requests: result.requests,
        durationS,
        requestsPerSecond: result.requests / durationS,
        latencyMs: { mean: us.mean / 1000, p50: us.p50 / 1000, p90: us.p90 / 1000, p99: us.p99 / 1000, max: us.max / 1000 },
        statuses: result.statuses,
        socketErrors: { connect: result.errors.connect, read: result.errors.read, write: result.errors.write, timeout: result.errors.timeout },
        loadGeneratorCpuS: shellStat ? (shellStat.ticks - shellStat.ownTicks) / ticksPerSecond() : NaN,
        nextBase: result.next_base,
        warning: result.warning,
      });
    });
  });
}

interface AutocannonResult {
  requests: { total: number };
  duration: number;
  latency: { average: number; p50: number; p90: number; p99: number; max: number };
  errors: number;
  timeouts: number;
}
type Autocannon = (options: Record<string, unknown>, done: (error: Error | null, result: AutocannonResult) => void)
  => { on(event: 'response', listener: (client: unknown, status: number) => void): void };

function runAutocannon(spec: LoadSpec): Promise<LoadResult> {
  // autocannon has no typings; required at run time only, so wrk runs never load it.
  const autocannon = require('autocannon') as Autocannon;
  const nextBody = bodyStream(spec.workload, spec.threads, spec.scriptArgs ?? {});
  const statuses: Record<string, number> = {};
  let sent = 0;
  const cpuBefore = process.cpuUsage();
  return new Promise((resolve, reject) => {
    const instance = autocannon({
      url: spec.url, connections: spec.connections, duration: spec.durationS,
      requests: [{
        method: 'POST', path: '/book', headers: { 'content-type': 'application/json' },
        setupRequest: (request: Record<string, unknown>) => { sent++; return { ...request, body: nextBody() }; },
      }],
    }, (error, result) => {
      if (error) return reject(error);
      const cpu = process.cpuUsage(cpuBefore);
      const base = spec.scriptArgs?.base ?? 0;
      resolve({
        tool: 'autocannon',
        command: `autocannon (programmatic) -c${spec.connections} -d${spec.durationS} POST /book, stream ${spec.workload} (threads ignored)`,
        requests: result.requests.total,
        durationS: result.duration,
        requestsPerSecond: result.requests.total / result.duration,
        latencyMs: { mean: result.latency.average, p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
        statuses,
        // autocannon counts connection errors and timeouts, without wrk's split by kind.
        socketErrors: { connect: 0, read: result.errors - result.timeouts, write: 0, timeout: result.timeouts },
        loadGeneratorCpuS: (cpu.user + cpu.system) / 1e6,
        nextBase: spec.workload === 'fresh_bookings' ? base + sent : undefined,
      });
    });
    instance.on('response', (_client, status) => { statuses[status] = (statuses[status] ?? 0) + 1; });
  });
}
