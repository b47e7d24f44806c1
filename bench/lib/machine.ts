import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

/** What a figure was measured on and with: printed beside every table, kept in every result file. */
export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  loadAverage: number[]; // 1, 5, 15 minutes, at start
  git: string; // commit, and whether the work tree differs from it
  postgres?: string;
}

export function machine(repoRoot: string): Machine {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    if (line) cpuModel = line.split(':')[1].trim();
  } catch { /* not Linux */ }
  return {
    cpuModel,
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    loadAverage: os.loadavg().map((value) => Math.round(value * 100) / 100),
    git: gitState(repoRoot),
  };
}

function gitState(repoRoot: string): string {
  try {
    const run = (...args: string[]) => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = run('status', '--porcelain', '--untracked-files=no', '--', 'src', 'sql').length > 0;
    return `${run('rev-parse', '--short', 'HEAD')}${dirty ? ' + uncommitted changes in src/ or sql/' : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

export function describeMachine(m: Machine): string {
  return [
    `machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.kernel}`,
    `node ${m.node}; PostgreSQL ${m.postgres ?? '?'}; git ${m.git}`,
    `load average at start: ${m.loadAverage.join(', ')}`,
  ].join('\n');
}
