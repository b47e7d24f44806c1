import fs from 'node:fs';
import path from 'node:path';
import { parseOptions, usageError } from './lib/args';
import { describeMachine, machine } from './lib/machine';
import { commandLine } from './lib/report';
import { markdownTable } from './lib/stats';
import { checkBookBody } from '../src/domain/schemas';
import { parseDay } from '../src/domain/dates';
import { normaliseRoomName, normaliseUserName } from '../src/domain/names';
import { ExistenceCache } from '../src/domain/existence';
import { BookingService } from '../src/domain/booking';
import { Access } from '../src/domain/access';
import { parseJson } from '../src/http/body';
import { errorOf, errorReply } from '../src/http/reply';
import { AppError } from '../src/errors';
import type { BookingBatcher } from '../src/db/bookings';
import type { Decision } from '../src/db/booking-statement';

/**
 * npm run bench:micro: tinybench on the functions every POST /book runs. Each task runs its
 * function `inner` times per sample, so that the timer's own cost (tens of ns) does not swamp
 * functions that take less; figures are per call. Warm-up runs first and is discarded.
 */
const repoRoot = path.resolve(__dirname, '..', '..');
const options = parseOptions(process.argv.slice(2), {
  time: { value: 500, help: 'milliseconds of sampling per task' },
  warmup: { value: 200, help: 'milliseconds of warm-up per task, discarded' },
  filter: { value: '', help: 'only tasks whose name contains this text' },
}, 'npm run bench:micro -- [options]');

const bookBody = '{"room_name":"ROOM1234","user_name":"user42","date":"25.11.27"}';
let sink: unknown; // results go here so that no call is optimised away

function cacheWith(rooms: number, users: number): ExistenceCache {
  const cache = new ExistenceCache();
  const rows = (count: number, prefix: string) => Array.from({ length: count }, (_, i) => [i + 1, `${prefix}${i + 1}`] as const);
  cache.rooms.setRows(rows(rooms, 'ROOM'));
  cache.users.setRows(rows(users, 'user'));
  cache.loaded = true;
  return cache;
}

/** The booking service with the database replaced by an answer at once: the domain's own cost. */
function serviceWithoutDatabase(): BookingService {
  const cache = cacheWith(10000, 1000);
  let id = 0;
  const batcher = {
    decide: (request: { roomId: number; userId: number; roomName: string | null; userName: string | null; day: string }): Promise<Decision> =>
      Promise.resolve({ outcome: 'booked', booking: { id: ++id, room_id: request.roomId, room_name: request.roomName!,
        user_id: request.userId, user_name: request.userName!, date: request.day } }),
  } as unknown as BookingBatcher;
  const lookups = { room: { findIdByName: async () => undefined }, user: { findIdByName: async () => undefined } };
  return new BookingService(cache, lookups, batcher, () => '2026-01-01');
}

type Task = { name: string; inner: number; fn: () => unknown };

function tasks(): Task[] {
  const cache = cacheWith(10000, 1000);
  const access = new Access('', Buffer.alloc(32, 7));
  const service = serviceWithoutDatabase();
  const booking = { id: 123456, room_id: 1234, room_name: 'ROOM1234', user_id: 42, user_name: 'user42', date: '2027-11-25' };
  return [
    { name: 'JSON.parse (book body string)', inner: 100, fn: () => JSON.parse(bookBody) },
    { name: 'checkBookBody.check (parsed body)', inner: 100, fn: () => checkBookBody.check(JSON.parse(bookBody)) },
    { name: 'parseJson + checkBookBody.check', inner: 100, fn: () => checkBookBody.check(parseJson(bookBody)) },
    { name: 'parseDay DD.MM.YY', inner: 100, fn: () => parseDay('25.11.27') },
    { name: 'parseDay YYYY-MM-DD', inner: 100, fn: () => parseDay('2027-11-25') },
    { name: 'parseDay invalid (31.02.27)', inner: 100, fn: () => parseDay('31.02.27') },
    { name: 'normaliseRoomName ASCII', inner: 100, fn: () => normaliseRoomName('ROOM1234') },
    { name: 'normaliseRoomName lower case, padded', inner: 100, fn: () => normaliseRoomName('  room 12  ') },
    { name: 'normaliseRoomName non-ASCII', inner: 100, fn: () => normaliseRoomName('Zürich-Saal') },
    { name: 'normaliseUserName ASCII', inner: 100, fn: () => normaliseUserName('user42') },
    { name: 'ExistenceCache hit (10k rooms)', inner: 100, fn: () => cache.rooms.idOf('ROOM5000') },
    { name: 'ExistenceCache miss (10k rooms)', inner: 100, fn: () => cache.rooms.idOf('ROOM99999') },
    { name: 'new AppError', inner: 100, fn: () => new AppError('already_booked', 'The room is already booked on 2027-11-25.') },
    { name: 'errorReply, default message', inner: 100, fn: () => errorReply(new AppError('already_booked')) },
    { name: 'errorReply, own message (409 already_booked)', inner: 100, fn: () => errorReply(new AppError('already_booked', 'The room is already booked on 2027-11-25.')) },
    { name: 'errorOf, own message (409 already_booked as returned, no Error)', inner: 100, fn: () => errorOf('already_booked', 'The room is already booked on 2027-11-25.') },
    { name: 'JSON.stringify booking + cancel_token', inner: 100, fn: () => JSON.stringify({ ...booking, cancel_token: 'abcdefghijklmnopqrstuv' }) },
    { name: 'Access.cancelTokenFor (AES-128 of the id)', inner: 20, fn: () => access.cancelTokenFor(123456) },
    { name: 'BookingService.book, database stubbed (async)', inner: 1, fn: () => service.book({ room: { name: 'ROOM1234' }, user: { name: 'user42' }, date: '25.11.27' }) },
  ];
}

async function main(): Promise<void> {
  const { Bench } = await import('tinybench'); // ESM only
  const host = machine(repoRoot);
  const bench = new Bench({ time: options.time, warmup: true, warmupTime: options.warmup });
  const chosen = tasks().filter((task) => task.name.includes(options.filter));
  if (chosen.length === 0) usageError(`--filter ${options.filter}: no task's name contains it (--help, or bench/README.md)`);
  for (const task of chosen) {
    const { fn, inner } = task;
    if (inner === 1) bench.add(task.name, async () => { sink = await fn(); });
    else bench.add(task.name, () => { for (let i = 0; i < inner; i++) sink = fn(); });
  }
  process.stderr.write(`running ${chosen.length} tasks, ${options.warmup} ms warm-up + ${options.time} ms each ...\n`);
  await bench.run();
  const rows = bench.tasks.map((task) => {
    const inner = chosen.find((t) => t.name === task.name)!.inner;
    const result = task.result;
    if (!result || result.error) return { name: task.name, error: String(result?.error ?? 'no result') };
    const perCall = (ms: number | undefined) => ((ms ?? NaN) * 1e6) / inner;
    return {
      name: task.name, medianNsPerCall: perCall(result.latency.p50), meanNsPerCall: perCall(result.latency.mean),
      p99NsPerCall: perCall(result.latency.p99), rmePercent: result.latency.rme, samples: result.latency.samples.length,
    };
  });
  const format = (ns: number) => (ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(0)} ns`);
  const table = markdownTable(['Function', 'median per call', 'mean per call', 'p99 of samples', 'calls/s (median)', '± (mean)', 'samples'],
    rows.map((row) => ('error' in row ? [row.name, row.error!, '', '', '', '', ''] : [row.name, format(row.medianNsPerCall!), format(row.meanNsPerCall!),
      format(row.p99NsPerCall!), Math.round(1e9 / row.medianNsPerCall!).toLocaleString('en-US'), `${row.rmePercent!.toFixed(1)} %`, String(row.samples)])));
  const command = commandLine('bench:micro', process.argv.slice(2));
  const text = [`# roombook micro benchmarks, ${new Date().toISOString()}`, '', `command: \`${command}\``, '```', describeMachine(host), '```', '', table, '',
    'Each sample times `inner` calls; figures are per call. The median is the figure to read on a shared machine: the mean and p99 ' +
      'carry every preemption and GC pause. ±: relative margin of error of the mean.'].join('\n');
  process.stdout.write(`\n${text}\n`);
  void sink;
  const dir = path.join(repoRoot, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:]/g, '').replace(/\..*/, '');
  fs.writeFileSync(path.join(dir, `micro-${stamp}.json`), `${JSON.stringify({ command, machine: host, options, rows }, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, 'micro.md'), `${text}\n`);
  process.stdout.write(`\nwritten: bench/results/micro-${stamp}.json, bench/results/micro.md\n`);
}

main().catch((error) => {
  process.stderr.write(`bench:micro failed: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
