import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/**
 * CPU time of process trees, from /proc/<pid>/stat. A process's own time is utime+stime; the time
 * of children it has reaped is in cutime+cstime. Summing all four over the live processes of a
 * tree counts every process that ran in it, alive or reaped by a member of the tree.
 */
export interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  ticks: number; // utime + stime + cutime + cstime
  ownTicks: number; // utime + stime
}

let clockTicks: number | undefined;

export function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** Parses one /proc/<pid>/stat line; the command name may hold spaces and parentheses. */
export function parseStat(line: string): ProcStat {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  const fields = line.slice(close + 2).split(' '); // fields[0] is field 3 (state)
  const at = (field: number) => Number(fields[field - 3]);
  return {
    pid: Number(line.slice(0, open).trim()),
    ppid: at(4),
    comm: line.slice(open + 1, close),
    ticks: at(14) + at(15) + at(16) + at(17),
    ownTicks: at(14) + at(15),
  };
}

export function readStat(pid: number): ProcStat | undefined {
  try {
    return parseStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined; // gone
  }
}

/** Peak resident memory (VmHWM) of a process in MB, undefined once it is gone. */
export function peakRssMb(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function allStats(): Map<number, ProcStat> {
  const stats = new Map<number, ProcStat>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat) stats.set(stat.pid, stat);
  }
  return stats;
}

/** The pids of `root` and its descendants, leaving out the subtrees rooted at `excluded`. */
export function treeOf(root: number, stats: Map<number, ProcStat>, excluded: number[] = []): number[] {
  const children = new Map<number, number[]>();
  for (const stat of stats.values()) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat.pid]);
  const tree: number[] = [];
  const visit = (pid: number) => {
    if (excluded.includes(pid) || !stats.has(pid)) return;
    tree.push(pid);
    for (const child of children.get(pid) ?? []) visit(child);
  };
  visit(root);
  return tree;
}

/** CPU seconds of the trees named by their roots (with exclusions), at this moment. */
export function treeCpuSeconds(trees: Record<string, { root: number; excluded?: number[] }>): Record<string, number> {
  const stats = allStats();
  const seconds: Record<string, number> = {};
  for (const [name, { root, excluded }] of Object.entries(trees)) {
    const ticks = treeOf(root, stats, excluded).reduce((sum, pid) => sum + stats.get(pid)!.ticks, 0);
    seconds[name] = ticks / ticksPerSecond();
  }
  return seconds;
}

/** Processes outside `ours` that used at least `minShare` of one core during `ms`: the noise. */
export async function busyProcesses(ms: number, ours: number[], minShare = 0.05)
  : Promise<{ pid: number; comm: string; cpu: number }[]> {
  const before = allStats();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = allStats();
  const busy: { pid: number; comm: string; cpu: number }[] = [];
  for (const stat of after.values()) {
    if (ours.includes(stat.pid)) continue;
    const used = (stat.ownTicks - (before.get(stat.pid)?.ownTicks ?? stat.ownTicks)) / ticksPerSecond() / (ms / 1000);
    if (used >= minShare) busy.push({ pid: stat.pid, comm: commandLine(stat.pid) || stat.comm, cpu: Math.round(used * 100) / 100 });
  }
  return busy.sort((a, b) => b.cpu - a.cpu);
}

function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 120);
  } catch {
    return '';
  }
}

/** CPU seconds the whole machine spent busy (all cores; idle and iowait left out), from /proc/stat. */
export function machineBusySeconds(): number {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, /* idle */, /* iowait */, irq, softirq, steal] = fields;
  return (user + nice + system + irq + softirq + (steal ?? 0)) / ticksPerSecond();
}
