import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/**
 * Starts the real roombook (compiled dist/, primary + workers) as a child process and waits for
 * its "roombook listening" line. PORT=0 lets the primary pick a free port for all its workers.
 */
export interface RunningServer {
  url: string;
  port: number;
  metricsUrl: string; // the primary's Prometheus endpoint: GET /metrics
  metricsPort: number;
  process: ChildProcess;
  logs: () => string;
  /** Signals the primary (with processGroup: its whole group, as a terminal's Ctrl-C does) and resolves with its exit code once it has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export const MAIN = path.resolve(__dirname, '../../dist/src/main.js');

/**
 * env: an undefined value removes the variable (the child sees it unset, whatever this process has).
 * openFiles: the child's limit of open file descriptors (ulimit -n), else this process's.
 * nodeArgs: options for node itself, before the script (what an operator gives as `node --flag main.js`).
 * processGroup: the child leads a process group of its own, which its workers join.
 */
export function runMain(env: Record<string, string | undefined>, args: string[] = [], openFiles?: number,
  nodeArgs: string[] = [], processGroup = false): ChildProcess {
  const [command, argv] = openFiles === undefined
    ? [process.execPath, [...nodeArgs, MAIN, ...args]]
    : ['/bin/sh', ['-c', `ulimit -n ${openFiles} && exec "$0" "$@"`, process.execPath, ...nodeArgs, MAIN, ...args]];
  return spawn(command, argv, {
    // METRICS_PORT=0: servers of parallel test files must not all claim the default 9100.
    env: { ...process.env, LOG_LEVEL: 'info', METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: processGroup,
  });
}

/** workers: 2 unless given; 'default' leaves WORKERS unset (one per core, or what the database has room for). */
export async function startServer(options: { databaseUrl?: string; workers?: number | 'default'; env?: Record<string, string | undefined>;
  openFiles?: number; nodeArgs?: string[]; processGroup?: boolean }): Promise<RunningServer> {
  const workers = options.workers === 'default' ? undefined : String(options.workers ?? 2);
  const env: Record<string, string | undefined> = { PORT: '0', WORKERS: workers, ...options.env };
  if (options.databaseUrl) env.DATABASE_URL = options.databaseUrl;
  const child = runMain(env, [], options.openFiles, options.nodeArgs, options.processGroup);
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let metricsPort = 0;
  const port = await new Promise<number>((resolve, reject) => {
    // A server that never listens is ended, not left running into the next tests with its workers
    // and database connections (jest then reported open handles).
    const timer = setTimeout(() => {
      if (options.processGroup) process.kill(-child.pid!, 'SIGKILL');
      else child.kill('SIGKILL'); // its workers end with its IPC channel
      reject(new Error(`server did not start in 30 s:\n${output}`));
    }, 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"message":"roombook listening".*?"port":(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        metricsPort = Number(/"message":"roombook listening".*?"metricsPort":(\d+)/.exec(output)?.[1] ?? 0);
        resolve(Number(match[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${output}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    metricsPort,
    process: child,
    logs: () => output,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        if (options.processGroup) process.kill(-child.pid!, signal);
        else child.kill(signal);
      }
      return exited;
    },
  };
}

/** Reads a child's whole output and exit code (for processes expected to exit by themselves). */
export function collect(child: ChildProcess): Promise<{ code: number | null; output: string }> {
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}
