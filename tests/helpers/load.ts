import http from 'node:http';
import { dayFromToday } from './http';

/**
 * A bounded booking load for fault tests: `concurrency` loops on keep-alive connections, each
 * sending POST /book and waiting for the answer before the next, for `durationMs` or until
 * stop(). Request n books slot n: a (room, day) drawn deterministically and never repeated in
 * one load, so any 409 or any slot with two rows is a fault, and every row in the table can be
 * traced back to the one request that may have written it. Every answer is recorded.
 */
export interface LoadOptions {
  url: string; // the server, e.g. http://127.0.0.1:1234
  rooms: string[]; // names of rooms that exist
  users: string[]; // names of users that exist; loop i books as users[i % users.length]
  concurrency: number;
  durationMs?: number; // stop by itself after this long (default: only on stop())
  firstDayOffset?: number; // slot 0 is rooms[0] on today + this many days (default 1)
  requestTimeoutMs?: number; // an answer slower than this is recorded as a hang (status 0, error 'timeout')
  pauseAfterErrorMs?: number; // a loop that got a non-2xx waits this long (a client honouring Retry-After, roughly)
}

export interface LoadRecord {
  slot: number;
  room: string;
  day: string;
  user: string;
  startedAt: number; // Date.now() when sent
  finishedAt: number; // Date.now() when the answer (or the failure) arrived
  latencyMs: number;
  status: number; // 0: no HTTP answer (connection error or timeout)
  error?: string; // the body's error code, or the connection error's code, or 'timeout'
  bookingId?: number; // for 201s
  retryAfter?: string; // the Retry-After header, when there was one
}

export interface LoadCounts {
  sent: number;
  byStatus: Record<string, number>; // '0' is connection errors and timeouts
  byError: Record<string, number>;
  created: number;
  maxLatencyMs: number;
}

export interface Load {
  records: LoadRecord[]; // grows while the load runs
  counts(records?: LoadRecord[]): LoadCounts;
  stop(): Promise<LoadRecord[]>; // resolves once every loop has its last answer
  done: Promise<LoadRecord[]>;
}

/** Slot n: room n mod R, on day (first + floor(n / R)). Every slot is a distinct (room, day). */
export function slotOf(slot: number, rooms: string[], firstDayOffset = 1): { room: string; day: string } {
  return { room: rooms[slot % rooms.length], day: dayFromToday(firstDayOffset + Math.floor(slot / rooms.length)) };
}

export function startLoad(options: LoadOptions): Load {
  const target = new URL(options.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency });
  const records: LoadRecord[] = [];
  const timeoutMs = options.requestTimeoutMs ?? 15_000;
  let nextSlot = 0;
  let stopped = false;
  const timer = options.durationMs === undefined ? undefined : setTimeout(() => (stopped = true), options.durationMs);

  const loop = async (index: number): Promise<void> => {
    const user = options.users[index % options.users.length];
    while (!stopped) {
      const slot = nextSlot++;
      const { room, day } = slotOf(slot, options.rooms, options.firstDayOffset);
      const record = await book(agent, target, { slot, room, day, user }, timeoutMs);
      records.push(record);
      if (record.status >= 300 && options.pauseAfterErrorMs) await new Promise((resolve) => setTimeout(resolve, options.pauseAfterErrorMs));
    }
  };

  const done = Promise.all(Array.from({ length: options.concurrency }, (_, index) => loop(index))).then(() => {
    clearTimeout(timer);
    agent.destroy();
    return records;
  });
  return {
    records,
    counts: (subset = records) => countsOf(subset),
    stop: () => {
      stopped = true;
      return done;
    },
    done,
  };
}

function book(agent: http.Agent, target: URL, what: { slot: number; room: string; day: string; user: string },
  timeoutMs: number): Promise<LoadRecord> {
  const payload = JSON.stringify({ room_name: what.room, user_name: what.user, date: what.day });
  const startedAt = Date.now();
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const finish = (status: number, error?: string, bookingId?: number, retryAfter?: string) => {
      if (settled) return;
      settled = true;
      resolve({ ...what, startedAt, finishedAt: Date.now(), latencyMs: performance.now() - started, status, error, bookingId, retryAfter });
    };
    const request = http.request({
      agent, host: target.hostname, port: target.port, method: 'POST', path: '/book',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('error', (error: NodeJS.ErrnoException) => finish(0, error.code ?? error.message));
      response.on('end', () => {
        let body: { error?: string; id?: number } | undefined;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        const retryAfter = response.headers['retry-after'];
        finish(response.statusCode!, body?.error, response.statusCode === 201 ? body?.id : undefined, retryAfter);
      });
    });
    request.setTimeout(timeoutMs, () => {
      finish(0, 'timeout');
      request.destroy();
    });
    request.on('error', (error: NodeJS.ErrnoException) => finish(0, error.code ?? error.message));
    request.end(payload);
  });
}

export function countsOf(records: LoadRecord[]): LoadCounts {
  const counts: LoadCounts = { sent: records.length, byStatus: {}, byError: {}, created: 0, maxLatencyMs: 0 };
  for (const record of records) {
    counts.byStatus[record.status] = (counts.byStatus[record.status] ?? 0) + 1;
    if (record.error) counts.byError[record.error] = (counts.byError[record.error] ?? 0) + 1;
    if (record.status === 201) counts.created++;
    if (record.latencyMs > counts.maxLatencyMs) counts.maxLatencyMs = record.latencyMs;
  }
  counts.maxLatencyMs = Math.round(counts.maxLatencyMs);
  return counts;
}
