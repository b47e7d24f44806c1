import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';

/**
 * Starts a server (roombook or the ceiling) as a child process and waits for its JSON log line
 * with the given message and a "port". Stops it with SIGTERM (both shut down their workers and,
 * for roombook, its embedded PostgreSQL), and SIGKILL by pid if that takes too long.
 */
export interface RunningServer {
  name: string;
  pid: number;
  port: number;
  url: string;
  /** The fields of the line that said it was listening. */
  ready: Record<string, unknown>;
  /** Its last lines of output, for error messages. */
  tail(): string;
  stop(): Promise<void>;
}

const TAIL_LINES = 40;

export function startServer(name: string, script: string, env: Record<string, string>, readyMessage: string,
  nodeArgs: string[] = [], timeoutMs = 90_000): Promise<RunningServer> {
  // node:cluster forks workers with the primary's execArgv, so node flags (--cpu-prof) reach them too.
  const child = spawn(process.execPath, [...nodeArgs, script], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const tail = () => lines.join('\n');
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => { exited = true; resolve(); }));

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not say "${readyMessage}" within ${timeoutMs / 1000} s; its output:\n${tail()}`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (code ${code}, signal ${signal}) before it was ready; its output:\n${tail()}`));
    });
    const onLine = (line: string) => {
      lines.push(line);
      if (lines.length > TAIL_LINES) lines.shift();
      if (!line.startsWith('{')) return;
      let fields: Record<string, unknown>;
      try { fields = JSON.parse(line); } catch { return; }
      if (fields.message !== readyMessage || typeof fields.port !== 'number') return;
      clearTimeout(timer);
      resolve({
        name, pid: child.pid!, port: fields.port, url: `http://127.0.0.1:${fields.port}`, ready: fields, tail,
        stop: () => stopChild(child, exit, () => exited),
      });
    };
    forEachLine(child, onLine);
  });
}

function forEachLine(child: ChildProcess, onLine: (line: string) => void): void {
  for (const stream of [child.stdout!, child.stderr!]) {
    let rest = '';
    stream.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop()!;
      for (const part of parts) if (part.trim()) onLine(part);
    });
  }
}

async function stopChild(child: ChildProcess, exit: Promise<void>, hasExited: () => boolean): Promise<void> {
  if (hasExited()) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exit;
  clearTimeout(timer);
}

/** GET a path on a new connection each time (so that SO_REUSEPORT may hand it to any worker). */
export function getJson(url: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false, timeout: 5000 }, (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => {
        let body: unknown = text;
        try { body = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: response.statusCode ?? 0, body });
      });
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${url} timed out`)));
    request.on('error', reject);
  });
}
