import fs from 'node:fs';
import path from 'node:path';
import type { Tool } from './load';
import type { Machine } from './machine';
import type { RunRecord, Summary } from './measure';
import { TUNING } from './roombook';
import { formatCount, formatMs, formatPercent, markdownTable } from './stats';
import { redact } from '../../src/primary';

/** The figures of `npm run bench`: a table in the original project's shape, the checks, the targets. */
export interface ScenarioResult {
  id: string;
  label: string;
  server: 'roombook' | 'ceiling';
  threads: number;
  connections: number;
  command: string;
  summary: Summary;
  vsCeiling: number; // median over runs of roombook req/s / ceiling req/s in the same round
}

export interface Report {
  repoRoot: string;
  started: Date;
  command: string;
  options: Record<string, unknown>;
  tool: Tool;
  machine: Machine;
  machineText: string;
  database: string;
  postgresTree: string; // what the PostgreSQL CPU readings cover
  postgresSettings: Record<string, string>;
  roombookSettings: Record<string, string>;
  noise: { pid: number; comm: string; cpu: number }[];
  results: ScenarioResult[];
  records: RunRecord[];
}

/** A figure with one decimal, or – when there is none: µs per request, batch sizes, ms, MB. */
const oneDecimal = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : '–');

/** How the command was given: the roombook settings set in the environment, then npm's command. */
export function commandLine(script: string, args: string[]): string {
  const env = [...TUNING, 'DATABASE_URL'].filter((name) => process.env[name])
    .map((name) => `${name}=${name === 'DATABASE_URL' ? redact(process.env[name]!) : process.env[name]}`);
  return [...env, `npm run ${script}`, ...(args.length ? ['--', ...args] : [])].join(' ');
}

interface Target { what: string; measured: string; pass: boolean }

export function targets(results: ScenarioResult[]): Target[] {
  const byId = new Map(results.map((result) => [result.id, result]));
  const found: Target[] = [];
  const original = byId.get('original-c64');
  if (original && byId.has('ceiling-c64')) {
    found.push({ what: 'original script -t4 -c64 ≥ 50 % of the ceiling server', measured: formatPercent(original.vsCeiling), pass: original.vsCeiling >= 0.5 });
  }
  const fresh = byId.get('fresh-c64');
  if (fresh) {
    found.push({ what: 'fresh workload ≥ 30,000 committed bookings/s', measured: `${formatCount(fresh.summary.bookingsPerSecond)}/s`, pass: fresh.summary.bookingsPerSecond >= 30000 });
  }
  // The bare server's own p99 on the same machine in the same rounds: what the target can be read against.
  const ceiling = byId.get('ceiling-c64');
  const ceilingP99 = ceiling ? ` (the ceiling server's own: ${formatMs(ceiling.summary.latencyP99Ms)})` : '';
  for (const result of results.filter((r) => r.server === 'roombook' && r.connections === 64)) {
    found.push({ what: `p99 < 5 ms: ${result.id}`, measured: `${formatMs(result.summary.latencyP99Ms)}${ceilingP99}`,
      pass: result.summary.latencyP99Ms < 5 });
  }
  const roombook = results.filter((r) => r.server === 'roombook');
  if (roombook.length) {
    const errors = roombook.reduce((total, r) => total + r.summary.serverErrors + r.summary.socketErrors, 0);
    found.push({ what: 'zero 5xx and socket errors (roombook, all measured runs)', measured: String(errors), pass: errors === 0 });
  }
  return found;
}

export function renderReport(report: Report): string {
  const rows = report.results.map((r) => {
    const s = r.summary;
    return [r.id, r.server, String(r.threads), String(r.connections), formatCount(s.requestsPerSecond), formatMs(s.latencyMeanMs),
      formatMs(s.latencyP99Ms), formatPercent(s.share2xx), formatPercent(s.share409), String(s.serverErrors), String(s.socketErrors),
      r.server === 'ceiling' ? 'baseline' : formatPercent(r.vsCeiling), r.server === 'ceiling' ? '–' : formatCount(s.bookingsPerSecond)];
  });
  const table = markdownTable(['Scenario', 'Server', 'Threads', 'Conns', 'Req/s', 'Latency avg', 'Latency p99', '2xx', '409',
    '5xx', 'Socket errors', 'vs ceiling', 'Bookings/s'], rows);
  const cpuTable = markdownTable(['Scenario', 'Server CPU µs/req', 'PostgreSQL CPU µs/req', 'Load generator CPU µs/req', 'Total µs/req',
    'Batch size', 'Statement ms', 'Waits ran out', 'Worker peak RSS MB'],
    report.results.map((r) => {
      const cpu = r.summary.cpuPerRequestUs;
      const total = cpu.server + (Number.isFinite(cpu.postgres) ? cpu.postgres : 0) + cpu.loadGenerator;
      return [r.id, oneDecimal(cpu.server), oneDecimal(cpu.postgres), oneDecimal(cpu.loadGenerator), oneDecimal(total),
        oneDecimal(r.summary.meanBatchSize), r.server === 'ceiling' ? '–' : oneDecimal(r.summary.meanStatementMs),
        r.server === 'ceiling' ? '–' : formatPercent(r.summary.shareRanOut),
        r.server === 'ceiling' ? '–' : oneDecimal(r.summary.workerPeakRssMb)];
    }));
  const checks = report.results.filter((r) => r.server === 'roombook').map((r) => `- ${r.id}: ${r.summary.checks}`);
  const lines = [
    `# roombook bench, ${report.started.toISOString()}`,
    '',
    `command: \`${report.command}\``,
    '```',
    report.machineText,
    `database: ${report.database}`,
    `PostgreSQL settings: ${Object.entries(report.postgresSettings).map(([k, v]) => `${k}=${v}`).join(', ') || '–'}`,
    `roombook settings: ${Object.entries(report.roombookSettings).map(([k, v]) => `${k}=${v}`).join(', ')}`,
    `load generator: ${report.tool === 'wrk' ? 'wrk with bench/lua/*.lua'
      : `autocannon (${report.options.tool === 'autocannon' ? '--tool autocannon' : 'wrk not installed'}): not comparable with wrk figures`}`,
    `other processes busy at start: ${report.noise.length ? report.noise.map((p) => `${p.comm} (${Math.round(p.cpu * 100)} % of a core)`).join('; ') : 'none'}`,
    '```',
    '',
    table,
    '',
    `Medians of ${report.options.runs} runs of ${report.options.duration} s per scenario, interleaved, after a discarded warm-up run of ` +
      `${report.options.warmup} s. 5xx and socket errors (connect, read, write, timeout) are totals over the measured runs. ` +
      '"vs ceiling": median of roombook req/s over the ceiling server\'s in the same round. Bookings/s: rows written per second of load ' +
      `(SQL count). ${report.options['keep-bookings'] ? 'The bookings table was kept between runs.' : 'The bookings table is emptied before each roombook run.'}`,
    '',
    `Where the CPU goes (medians; CPU time per request, read from /proc for each process tree; PostgreSQL: ${report.postgresTree}). ` +
      `On ${report.machine.cores} cores, 1e6 × ${report.machine.cores} / total µs per request bounds req/s when nothing else runs. ` +
      'Batch size and statement ms: means from roombook\'s own metrics (bookings per booking statement, time per statement). ' +
      'Waits ran out: statements that waited BATCH_GATHER_MS for clients that did not come back, of all statements.',
      'Worker peak RSS: the largest worker\'s VmHWM (peak resident memory since it started) after the runs.',
    '',
    cpuTable,
    '',
    'Commands (PORT: the server\'s port in that run):',
    ...report.results.map((r) => `- ${r.id}: \`${r.command}\``),
    '',
    'SQL checks after every measured run (201s seen = rows written; no (room, day) twice):',
    ...checks,
    '',
    'Targets:',
    ...targets(report.results).map((t) => `- ${t.pass ? 'PASS' : 'MISS'} ${t.what}: ${t.measured}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** Prints the report, and writes it to bench/results/ (timestamped JSON, latest.md). */
export async function report(report: Report): Promise<void> {
  const text = renderReport(report);
  process.stdout.write(`\n${text}`);
  const dir = path.join(report.repoRoot, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const stamp = report.started.toISOString().replace(/[:]/g, '').replace(/\..*/, '');
  const file = path.join(dir, `bench-${stamp}.json`);
  const { repoRoot: _root, machineText: _text, ...kept } = report;
  fs.writeFileSync(file, `${JSON.stringify({ ...kept, targets: targets(report.results) }, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, 'latest.md'), text);
  process.stdout.write(`\nwritten: ${path.relative(report.repoRoot, file)}, bench/results/latest.md\n`);
}
