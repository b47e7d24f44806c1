import crypto from 'node:crypto';
import type postgres from 'postgres';
import { connect, createDatabase } from '../helpers/database';
import { startServer, type RunningServer } from '../helpers/server';
import { call } from '../helpers/http';
import { scrape, type Sample } from '../helpers/metrics';
import { mulberry32 } from '../helpers/fuzz-cases';

/**
 * A mixed workload against the real cluster, checked as a model: 32 loops (by default) for 15 s
 * create, rename and delete rooms and users (with and without ?cascade=true), book by name and by
 * id on both booking routes, cancel with right and wrong tokens, page through GET /bookings with
 * filters, read bookings, rooms, users and availability, all over six room names, six user names
 * and five days, so that the operations collide. Every request and answer is recorded with the
 * times it was sent and answered; afterwards the answers are checked against each other and
 * against the final rows (see check() for the invariants). The times make the checks sound: an
 * answer is only judged wrong where the other requests' answers prove the state it contradicts
 * held throughout the request (created before it was sent, not removed until after its answer).
 *
 * Soak by hand: MIXED_SECONDS=600 npx jest --runInBand tests/faults/mixed-workload.test.ts
 * Replay an operation mix: MIXED_SEED=<seed printed below> (each loop draws from its own seeded
 * generator; what the loops meet still depends on timing). MIXED_CONCURRENCY changes the loops.
 * MIXED_LOGS=1 prints the server's log at the end.
 */
const SEED = process.env.MIXED_SEED !== undefined ? Number(process.env.MIXED_SEED) >>> 0 : crypto.randomInt(2 ** 32);
const SECONDS = Number(process.env.MIXED_SECONDS ?? 15);
const CONCURRENCY = Number(process.env.MIXED_CONCURRENCY ?? 32);
jest.setTimeout(45_000 + SECONDS * 2_000);

const ROOMS = ['ALPHA', 'BRAVO', 'CHARLIE', 'DELTA', 'ECHO', 'FOXTROT'];
const USERS = ['ann', 'bob', 'cat', 'dan', 'eve', 'fay'];
const DAYS = ['2030-01-01', '2030-01-02', '2030-01-03', '2030-01-04', '2030-01-05'];
const AVAILABILITY_TO = '2030-01-07';
const say = (line: string) => process.stdout.write(`[mixed seed=${SEED}] ${line}\n`);

type Kind = 'room' | 'user';
type Op = 'book' | 'bookings' | 'cancel' | 'getBooking' | 'listBookings' | 'availability' | 'createRoom' | 'createUser'
  | 'renameRoom' | 'renameUser' | 'deleteRoom' | 'deleteUser' | 'listRooms' | 'listUsers' | 'getRoom' | 'getUser';

/** One request and its answer; t0/t1: performance.now() when sent and when the answer was read. */
interface Rec {
  n: number;
  op: Op;
  method: string;
  path: string;
  route: string; // the route label of roombook_http_requests_total
  body?: Record<string, unknown>;
  token?: string; // X-Cancel-Token sent
  target?: number; // the id in the path
  cascade?: boolean;
  session?: number; // listBookings: the n of the session's first page
  t0: number;
  t1: number;
  status: number; // 0: no HTTP answer
  res: any;
}

interface Booking { id: number; room_id: number; user_id: number; date: string; cancel_token: string; rec: Rec }

// ---------------------------------------------------------------- the workload

async function runWorkload(url: string, seconds: number, concurrency: number, seed: number): Promise<Rec[]> {
  const records: Rec[] = [];
  let n = 0;
  const ids: Record<Kind, Set<number>> = { room: new Set(), user: new Set() };
  const maxId: Record<Kind, number> = { room: 0, user: 0 };
  const booked: { id: number; token: string; cancelled: boolean }[] = [];

  async function send(op: Op, method: string, path: string, route: string, extra: Partial<Rec> = {},
    body?: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Rec> {
    const rec: Rec = { n: ++n, op, method, path, route, body, ...extra, t0: performance.now(), t1: 0, status: 0, res: undefined };
    try {
      const answer = await call(url, method, path, body, headers);
      rec.status = answer.status;
      rec.res = answer.body;
    } catch (error) {
      rec.res = String((error as Error).cause ?? error);
    }
    rec.t1 = performance.now();
    records.push(rec);
    if ((op === 'book' || op === 'bookings') && rec.status === 201) booked.push({ id: rec.res.id, token: rec.res.cancel_token, cancelled: false });
    return rec;
  }
  const note = (kind: Kind, rec: Rec) => {
    if ((rec.status === 201 || rec.status === 200) && typeof rec.res?.id === 'number') {
      ids[kind].add(rec.res.id);
      maxId[kind] = Math.max(maxId[kind], rec.res.id);
    }
  };

  const lane = (index: number) => {
    const random = mulberry32((seed + Math.imul(index + 1, 0x9e3779b9)) >>> 0);
    const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)];
    const chance = (p: number) => random() < p;
    const dayForm = (day: string) => {
      if (chance(0.7)) return day;
      const [y, m, d] = day.split('-');
      return chance(0.5) ? `${d}.${m}.${y.slice(2)}` : `${d}/${m}/${y.slice(2)}`;
    };
    const roomName = () => { const name = pick(ROOMS); return chance(0.3) ? ` ${name.toLowerCase()} ` : name; };
    const userName = () => { const name = pick(USERS); return chance(0.3) ? name.toUpperCase() : name; };
    // Mostly an id last seen alive, sometimes any id up to a little past the highest seen.
    const someId = (kind: Kind) => (ids[kind].size && chance(0.9) ? pick([...ids[kind]]) : Math.floor(random() * (maxId[kind] + 3)) + 1);
    const plural = (kind: Kind) => `${kind}s`;

    const ops: [number, () => Promise<unknown>][] = [
      [20, () => send('book', 'POST', '/book', '/book', {}, { room_name: roomName(), user_name: userName(), date: dayForm(pick(DAYS)) })],
      [20, () => {
        const body: Record<string, unknown> = {};
        if (chance(0.5)) body.room_name = roomName(); else body.room_id = someId('room');
        if (chance(0.5)) body.user_name = userName(); else body.user_id = someId('user');
        body.date = dayForm(pick(DAYS));
        return send('bookings', 'POST', '/bookings', '/bookings', {}, body);
      }],
      [14, async () => {
        if (!booked.length) return;
        const live = booked.filter((b) => !b.cancelled);
        const b = live.length && chance(0.9) ? pick(live.slice(-50)) : pick(booked);
        const token = chance(0.05) ? `wrong${b.token.slice(5)}` : b.token;
        const rec = await send('cancel', 'DELETE', `/bookings/${b.id}`, '/bookings/:id', { target: b.id, token }, undefined, { 'x-cancel-token': token });
        if (rec.status === 204 || rec.status === 404) b.cancelled = true;
        if (chance(0.1)) await send('cancel', 'DELETE', `/bookings/${b.id}`, '/bookings/:id', { target: b.id, token: b.token }, undefined, { 'x-cancel-token': b.token });
      }],
      [6, () => {
        const id = booked.length && chance(0.9) ? pick(booked).id : Math.floor(random() * 1000) + 1;
        return send('getBooking', 'GET', `/bookings/${id}`, '/bookings/:id', { target: id });
      }],
      [4, async () => {
        const query: string[] = [];
        if (chance(0.3)) query.push(`room_id=${someId('room')}`);
        if (chance(0.3)) query.push(`user_id=${someId('user')}`);
        if (chance(0.3)) query.push(`from=${pick(DAYS)}`);
        if (chance(0.3)) query.push(`to=2030-01-0${3 + Math.floor(random() * 3)}`);
        query.push(`limit=${pick([1, 2, 3, 5, 10, 100])}`);
        const session = n + 1;
        let after = 0;
        for (let page = 0; page < 200; page++) {
          const text = [...query, ...(after ? [`after=${after}`] : [])].join('&');
          const rec = await send('listBookings', 'GET', `/bookings?${text}`, '/bookings', { session });
          if (rec.status !== 200 || rec.res.next === null) break;
          after = rec.res.next;
        }
      }],
      [6, () => {
        const id = someId('room');
        const from = chance(0.5) ? '2029-12-30' : pick(DAYS);
        return send('availability', 'GET', `/rooms/${id}/availability?from=${from}&to=${AVAILABILITY_TO}`, '/rooms/:id/availability', { target: id });
      }],
      [4, async () => note('room', await send('createRoom', 'POST', '/rooms', '/rooms', {}, { name: roomName() }))],
      [4, async () => note('user', await send('createUser', 'POST', '/users', '/users', {}, { name: userName() }))],
      ...(['room', 'user'] as Kind[]).flatMap((kind): [number, () => Promise<unknown>][] => {
        const cap = kind === 'room' ? 'Room' : 'User';
        return [
          [3, async () => {
            const id = someId(kind);
            note(kind, await send(`rename${cap}` as Op, 'PATCH', `/${plural(kind)}/${id}`, `/${plural(kind)}/:id`, { target: id },
              { name: kind === 'room' ? roomName() : userName() }));
          }],
          [2, async () => {
            const id = someId(kind);
            const cascade = chance(0.5);
            const rec = await send(`delete${cap}` as Op, 'DELETE', `/${plural(kind)}/${id}${cascade ? '?cascade=true' : ''}`, `/${plural(kind)}/:id`, { target: id, cascade });
            if (rec.status === 204 || rec.status === 404) ids[kind].delete(id);
          }],
          [2, () => send(`list${cap}s` as Op, 'GET', `/${plural(kind)}?limit=${pick([2, 100])}`, `/${plural(kind)}`)],
          [2, () => { const id = someId(kind); return send(`get${cap}` as Op, 'GET', `/${plural(kind)}/${id}`, `/${plural(kind)}/:id`, { target: id }); }],
        ];
      }),
    ];
    const totalWeight = ops.reduce((sum, [weight]) => sum + weight, 0);
    return async (end: number) => {
      while (performance.now() < end) {
        let r = random() * totalWeight;
        const op = ops.find(([weight]) => (r -= weight) < 0) ?? ops[0];
        await op[1]();
      }
    };
  };

  for (const name of ROOMS) note('room', await send('createRoom', 'POST', '/rooms', '/rooms', {}, { name }));
  for (const name of USERS) note('user', await send('createUser', 'POST', '/users', '/users', {}, { name }));
  const end = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, (_, index) => lane(index)(end)));
  return records;
}

// ---------------------------------------------------------------- the checks

const parseDay = (text: string): string | undefined => {
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) return text;
  const match = /^(\d{2})[./](\d{2})[./](\d{2})$/.exec(text);
  return match ? `20${match[3]}-${match[2]}-${match[1]}` : undefined;
};
const normalName = (kind: Kind, name: string) => (kind === 'room' ? name.trim().toUpperCase() : name.trim().toLowerCase());
const clip = (text: string, length = 400) => (text.length > length ? `${text.slice(0, length)}…` : text);
/** A request and its answer in one line, with its times (ms since the test process began). */
const show = (rec: Rec) => clip(`#${rec.n} ${rec.method} ${rec.path}${rec.body ? ` ${JSON.stringify(rec.body)}` : ''}`
  + `${rec.token ? ` X-Cancel-Token ${rec.token.slice(0, 12)}…` : ''} → ${rec.status} ${JSON.stringify(rec.res) ?? ''}`, 600)
  + ` [${rec.t0.toFixed(1)}–${rec.t1.toFixed(1)} ms]`;

/** The (status, error) each operation may answer; anything else is a violation. */
const EXPECTED: Record<Op, string[]> = {
  book: ['201', '409 already_booked', '409 room_not_found', '409 user_not_found'],
  bookings: ['201', '409 already_booked', '409 room_not_found', '409 user_not_found'],
  cancel: ['204', '403 forbidden', '404 not_found'],
  getBooking: ['200', '404 not_found'],
  listBookings: ['200', '400 invalid_query'],
  availability: ['200', '404 not_found'],
  createRoom: ['201', '409 name_taken'],
  createUser: ['201', '409 name_taken'],
  renameRoom: ['200', '404 not_found', '409 name_taken'],
  renameUser: ['200', '404 not_found', '409 name_taken'],
  deleteRoom: ['204', '404 not_found', '409 room_has_bookings'],
  deleteUser: ['204', '404 not_found', '409 user_has_bookings'],
  listRooms: ['200'],
  listUsers: ['200'],
  getRoom: ['200', '404 not_found'],
  getUser: ['200', '404 not_found'],
};
const answerOf = (rec: Rec) => `${rec.status}${rec.status >= 300 && rec.res?.error ? ` ${rec.res.error}` : ''}`;

interface Interval { from: number; to: number }
const covers = (intervals: Interval[], t0: number, t1: number) => intervals.some((iv) => iv.from < t0 && iv.to > t1);
const push = <K, V>(map: Map<K, V[]>, key: K, value: V) => { const list = map.get(key); if (list) list.push(value); else map.set(key, [value]); };

interface Rows { bookings: { id: number; room_id: number; user_id: number; day: string }[]; rooms: number[]; users: number[] }

/**
 * The invariants, each a kind of violation below. "Removed" is a 204 cancel of the booking, or a
 * 204 delete of its room or user that ended after the booking was sent. A booking is "alive
 * throughout" [t0, t1] when its 201 came before t0 and nothing that removed it started before t1;
 * "possibly alive" when it was sent before t1 and nothing that removed it had ended before t0.
 * A name is "held throughout" by an id from the answer of its create or rename until the start of
 * a delete or a rename to another name (a release running alongside the acquisition voids it);
 * an id "existed throughout" from its create's answer to the start of its first delete.
 */
function check(records: Rec[], rows: Rows): { violations: Map<string, string[]>; sessionsChecked: number; bookings: Map<number, Booking> } {
  const violations = new Map<string, string[]>();
  const report = (what: string, detail: string) => push(violations, what, detail);

  // Answers outside the expected set: 5xx, connection errors, anything the API does not give here.
  for (const rec of records) {
    if (!EXPECTED[rec.op].includes(answerOf(rec))) report(`${rec.op} answered ${answerOf(rec)}, which it never should here`, show(rec));
    if (rec.op === 'listBookings' && rec.status === 400) {
      const query = new URLSearchParams(rec.path.split('?')[1]);
      if (!(query.get('from') !== null && query.get('to') !== null && query.get('to')! < query.get('from')!)) report('GET /bookings answered 400 to a valid query', show(rec));
    }
    if ((rec.op === 'deleteRoom' || rec.op === 'deleteUser') && rec.cascade && rec.status === 409) report('a delete with ?cascade=true refused for bookings', show(rec));
  }

  const bookings = new Map<number, Booking>();
  const cancels = new Map<number, Rec[]>();
  const deletes: Record<Kind, Map<number, Rec[]>> = { room: new Map(), user: new Map() };
  const acquisitions: Record<Kind, Map<string, { id: number; t0: number; t1: number }[]>> = { room: new Map(), user: new Map() };
  const events: Record<Kind, Map<number, { type: 'create' | 'rename' | 'delete'; name?: string; t0: number; t1: number }[]>> = { room: new Map(), user: new Map() };
  for (const rec of records) {
    if ((rec.op === 'book' || rec.op === 'bookings') && rec.status === 201) {
      const b = rec.res;
      if (bookings.has(b.id)) report('two 201s with the same booking id', `${show(bookings.get(b.id)!.rec)} and ${show(rec)}`);
      bookings.set(b.id, { id: b.id, room_id: b.room_id, user_id: b.user_id, date: b.date, cancel_token: b.cancel_token, rec });
      const body = rec.body!;
      const wrong = [
        b.date !== parseDay(body.date as string) && 'date',
        body.room_name !== undefined && b.room_name !== normalName('room', body.room_name as string) && 'room_name',
        body.user_name !== undefined && b.user_name !== normalName('user', body.user_name as string) && 'user_name',
        body.room_id !== undefined && b.room_id !== body.room_id && 'room_id',
        body.user_id !== undefined && b.user_id !== body.user_id && 'user_id',
        typeof b.cancel_token !== 'string' && 'cancel_token',
      ].filter(Boolean);
      if (wrong.length) report('a 201 booking that is not what was asked', `${wrong.join(', ')}: ${show(rec)}`);
    }
    if (rec.op === 'cancel') push(cancels, rec.target!, rec);
    for (const kind of ['room', 'user'] as Kind[]) {
      const cap = kind === 'room' ? 'Room' : 'User';
      if (rec.op === `delete${cap}` && rec.status === 204) {
        push(deletes[kind], rec.target!, rec);
        push(events[kind], rec.target!, { type: 'delete', t0: rec.t0, t1: rec.t1 });
      }
      const created = rec.op === `create${cap}` && rec.status === 201;
      const renamed = rec.op === `rename${cap}` && rec.status === 200;
      if (created || renamed) {
        const asked = normalName(kind, rec.body!.name as string);
        if (rec.res.name !== asked || (renamed && rec.res.id !== rec.target)) report(`a ${created ? 'create' : 'rename'} answered another ${kind} or name than asked`, show(rec));
        push(acquisitions[kind], rec.res.name, { id: rec.res.id, t0: rec.t0, t1: rec.t1 });
        push(events[kind], rec.res.id, { type: created ? 'create' : 'rename', name: rec.res.name, t0: rec.t0, t1: rec.t1 });
      }
    }
  }

  const removal = new Map<number, { start: number; end: number }>();
  for (const b of bookings.values()) {
    let start = Infinity;
    let end = Infinity;
    const removers = [...(cancels.get(b.id) ?? []).filter((c) => c.status === 204),
      ...(deletes.room.get(b.room_id) ?? []).filter((d) => d.t1 > b.rec.t0), ...(deletes.user.get(b.user_id) ?? []).filter((d) => d.t1 > b.rec.t0)];
    for (const r of removers) { start = Math.min(start, r.t0); end = Math.min(end, r.t1); }
    removal.set(b.id, { start, end });
  }
  const aliveThroughout = (b: Booking, t0: number, t1: number) => b.rec.t1 < t0 && removal.get(b.id)!.start > t1;
  const possiblyAlive = (b: Booking, t0: number, t1: number) => b.rec.t0 < t1 && removal.get(b.id)!.end > t0;
  /** Shown by an answer to a request sent after its removal had been answered. */
  const goneBefore = (b: Booking, t0: number) => removal.get(b.id)!.end < t0;

  const memo = <T>(compute: (kind: Kind, name: string) => T) => {
    const cache = new Map<string, T>();
    return (kind: Kind, name: string): T => {
      const key = `${kind}|${name}`;
      if (!cache.has(key)) cache.set(key, compute(kind, name));
      return cache.get(key)!;
    };
  };
  const holdIntervals = memo((kind, name): Interval[] => (acquisitions[kind].get(name) ?? []).map((a) => {
    let to = Infinity;
    for (const e of events[kind].get(a.id) ?? []) {
      const release = e.type === 'delete' || (e.type === 'rename' && e.name !== name);
      if (!release || e.t1 <= a.t0) continue;
      to = e.t1 <= a.t1 ? -Infinity : Math.min(to, e.t0); // a release alongside the acquisition: order unknown
    }
    return { from: a.t1, to };
  }));
  const existIntervals = (kind: Kind, id: number): Interval[] => {
    const list = events[kind].get(id) ?? [];
    return list.filter((e) => e.type === 'create').map((c) => ({
      from: c.t1, to: list.filter((e) => e.type === 'delete' && e.t1 > c.t0).reduce((first, e) => Math.min(first, e.t0), Infinity),
    }));
  };
  const idsEverNamed = memo((kind, name) => [...new Set((acquisitions[kind].get(name) ?? []).map((a) => a.id))]);

  // The rows against the 201s.
  const rowById = new Map(rows.bookings.map((row) => [row.id, row]));
  const roomSet = new Set(rows.rooms);
  const userSet = new Set(rows.users);
  for (const b of bookings.values()) {
    const row = rowById.get(b.id);
    if (row && (row.room_id !== b.room_id || row.user_id !== b.user_id || row.day !== b.date)) report('a 201 booking whose row differs', `row ${JSON.stringify(row)}: ${show(b.rec)}`);
    if (!row && removal.get(b.id)!.start === Infinity) report('a 201 booking neither in the table nor cancelled nor deleted with its room or user', show(b.rec));
  }
  for (const row of rows.bookings) {
    if (!bookings.has(row.id)) report('a booking row that no 201 answered', JSON.stringify(row));
    if (!roomSet.has(row.room_id) || !userSet.has(row.user_id)) report('a booking row whose room or user is gone', JSON.stringify(row));
  }

  // No two bookings of a slot alive at once: of two 201s for it, one must have been removed
  // (its removal begun) before the other's answer.
  const bySlot = new Map<string, Booking[]>();
  const byRoom = new Map<number, Booking[]>();
  const byUser = new Map<number, Booking[]>();
  for (const b of bookings.values()) { push(bySlot, `${b.room_id}|${b.date}`, b); push(byRoom, b.room_id, b); push(byUser, b.user_id, b); }
  for (const list of bySlot.values()) {
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const [a, c] = [list[i], list[j]];
        if (!(removal.get(a.id)!.start < c.rec.t1 || removal.get(c.id)!.start < a.rec.t1)) report('one slot booked twice at once', `${show(a.rec)} and ${show(c.rec)}`);
      }
    }
  }

  for (const rec of records) {
    // Refused bookings.
    if ((rec.op === 'book' || rec.op === 'bookings') && rec.status === 409) {
      const day = parseDay(rec.body!.date as string)!;
      const error = rec.res.error;
      if (error === 'already_booked') {
        const roomIds = rec.body!.room_id !== undefined ? [rec.body!.room_id as number] : idsEverNamed('room', normalName('room', rec.body!.room_name as string));
        if (!roomIds.some((id) => (bySlot.get(`${id}|${day}`) ?? []).some((b) => possiblyAlive(b, rec.t0, rec.t1)))) {
          report('already_booked although no booking of that slot can have been alive during the request', show(rec));
        }
      } else if (error === 'room_not_found' || error === 'user_not_found') {
        const kind: Kind = error === 'room_not_found' ? 'room' : 'user';
        const name = rec.body![`${kind}_name`] as string | undefined;
        if (name !== undefined ? covers(holdIntervals(kind, normalName(kind, name)), rec.t0, rec.t1)
          : covers(existIntervals(kind, rec.body![`${kind}_id`] as number), rec.t0, rec.t1)) {
          report(`${error} although the ${kind} existed under that ${name !== undefined ? 'name' : 'id'} throughout the request`, show(rec));
        }
      }
    }
    // Deletes, renames and reads of rooms and users.
    const kind: Kind | undefined = /Room$/.test(rec.op) || rec.op === 'availability' ? 'room' : /User$/.test(rec.op) ? 'user' : undefined;
    if (kind && rec.target !== undefined && rec.status === 404 && covers(existIntervals(kind, rec.target), rec.t0, rec.t1)) {
      report(`${rec.op} answered 404 although the ${kind} existed throughout the request`, show(rec));
    }
    if (rec.op === 'deleteRoom' || rec.op === 'deleteUser') {
      const mine = ((rec.op === 'deleteRoom' ? byRoom : byUser).get(rec.target!) ?? []);
      if (rec.status === 409 && !mine.some((b) => possiblyAlive(b, rec.t0, rec.t1))) report('has_bookings although none of its bookings can have been alive during the request', show(rec));
      if (rec.status === 204 && !rec.cascade) {
        const alive = mine.filter((b) => aliveThroughout(b, rec.t0, rec.t1));
        if (alive.length) report('a delete without cascade went through while a booking of it was alive', `${show(rec)}; alive: ${alive.map((b) => show(b.rec)).join('; ')}`);
      }
    }
    // GET /bookings/:id.
    if (rec.op === 'getBooking') {
      const b = bookings.get(rec.target!);
      if (rec.status === 200 && (!b || rec.res.id !== b.id || rec.res.room_id !== b.room_id || rec.res.user_id !== b.user_id || rec.res.date !== b.date)) {
        report('GET /bookings/:id answered a booking no 201 made so', `${show(rec)}${b ? `; made by ${show(b.rec)}` : ''}`);
      }
      if (rec.status === 200 && b && goneBefore(b, rec.t0)) report('GET /bookings/:id answered a booking removed before the request', `${show(rec)}; made by ${show(b.rec)}`);
      if (rec.status === 200 && 'cancel_token' in rec.res) report('GET /bookings/:id showed the cancel token', show(rec));
      if (rec.status === 404 && b && aliveThroughout(b, rec.t0, rec.t1)) report('GET /bookings/:id answered 404 while the booking was alive', `${show(rec)}; made by ${show(b.rec)}`);
    }
  }

  // Cancels.
  for (const [id, list] of cancels) {
    const done = list.filter((c) => c.status === 204);
    if (done.length > 1) report('one booking cancelled twice (two 204s)', done.map(show).join('; '));
    const b = bookings.get(id);
    for (const c of list) {
      const rightToken = b !== undefined && c.token === b.cancel_token;
      if (c.status === 403 && rightToken) report('a cancel with the right token refused (403)', show(c));
      if (c.status === 204 && !rightToken) report('a cancel with a wrong token went through (204)', show(c));
      if (c.status === 404 && rightToken && aliveThroughout(b, c.t0, c.t1)) report('a cancel answered 404 while the booking was alive', `${show(c)}; made by ${show(b.rec)}`);
    }
  }

  // Pagination: each session (the pages of one listing, all 200) in ascending ids, without
  // repeats, each item a booking as made, not removed before the page was asked for, and within
  // the filter; a page is short exactly when it
  // is the last; a complete session holds every booking alive throughout it that matches.
  const lastAnswer = records.reduce((latest, rec) => Math.max(latest, rec.t1), 0);
  const BUCKET_MS = 250;
  const aliveBuckets = new Map<number, Booking[]>(); // bookings certainly alive at some time in the bucket
  for (const b of bookings.values()) {
    const to = Math.min(removal.get(b.id)!.start, lastAnswer);
    for (let k = Math.floor(b.rec.t1 / BUCKET_MS); k <= Math.floor(to / BUCKET_MS); k++) push(aliveBuckets, k, b);
  }
  const sessions = new Map<number, Rec[]>();
  for (const rec of records) if (rec.op === 'listBookings') push(sessions, rec.session!, rec);
  let sessionsChecked = 0;
  for (const pages of sessions.values()) {
    pages.sort((a, b) => a.n - b.n);
    if (pages.some((page) => page.status !== 200)) continue;
    sessionsChecked++;
    const query = new URLSearchParams(pages[0].path.split('?')[1]);
    const filter = { room_id: query.get('room_id'), user_id: query.get('user_id'), from: query.get('from'), to: query.get('to') };
    const limit = Number(query.get('limit'));
    const matches = (x: { room_id: number; user_id: number; date: string }) => (filter.room_id === null || x.room_id === Number(filter.room_id))
      && (filter.user_id === null || x.user_id === Number(filter.user_id)) && (filter.from === null || x.date >= filter.from) && (filter.to === null || x.date <= filter.to);
    const seen = new Set<number>();
    let last = 0;
    for (const page of pages) {
      const items: any[] = page.res.items;
      const short = items.length < limit;
      if (items.length > limit || (page.res.next === null) !== short || (!short && page.res.next !== items[items.length - 1].id)) {
        report('a page whose length and next disagree (next is null exactly when a page is short, else the last id)', show(page));
      }
      for (const item of items) {
        if (seen.has(item.id) || item.id <= last) report('a listing repeated an item or went back', `item ${item.id} in ${show(page)} (first page #${pages[0].n})`);
        seen.add(item.id);
        last = Math.max(last, item.id);
        if (!matches(item)) report('a listing returned an item outside its filter', `${JSON.stringify(item)} in ${show(page)}`);
        const b = bookings.get(item.id);
        if (!b || b.room_id !== item.room_id || b.user_id !== item.user_id || b.date !== item.date) {
          report('a listing returned a booking no 201 made so', `${JSON.stringify(item)} in ${show(page)}`);
        } else if (goneBefore(b, page.t0)) report('a listing returned a booking removed before the page was asked for', `${JSON.stringify(item)} in ${show(page)}`);
      }
    }
    const final = pages[pages.length - 1];
    if (final.res.next !== null) continue; // cut off after 200 pages
    const [t0, t1] = [pages[0].t0, final.t1];
    const candidates = filter.room_id !== null ? byRoom.get(Number(filter.room_id)) ?? []
      : filter.user_id !== null ? byUser.get(Number(filter.user_id)) ?? [] : aliveBuckets.get(Math.floor(t0 / BUCKET_MS)) ?? [];
    for (const b of candidates) {
      if (matches(b) && aliveThroughout(b, t0, t1) && !seen.has(b.id)) {
        report('a complete listing skipped a booking alive throughout it', `booking ${b.id} made by ${show(b.rec)}; listing ${show(pages[0])} … ${show(final)}`);
      }
    }
  }

  // Availability: every day of the range once, booked or free; each booked entry a booking as
  // made and not removed before the request; every booking of the room in the range alive throughout the request among them.
  for (const rec of records) {
    if (rec.op !== 'availability' || rec.status !== 200) continue;
    const id = rec.target!;
    const { from, to, booked, free } = rec.res as { from: string; to: string; booked: { date: string; booking_id: number }[]; free: string[] };
    const days = [...booked.map((x) => x.date), ...free];
    const span = (Date.parse(to) - Date.parse(from)) / 86_400_000 + 1;
    if (rec.res.room_id !== id || new Set(days).size !== days.length || days.length !== span || days.some((day) => day < from || day > to)) {
      report('availability does not list each day of its range once, booked or free', show(rec));
    }
    for (const x of booked) {
      const b = bookings.get(x.booking_id);
      if (!b || b.room_id !== id || b.date !== x.date) report('availability shows a booking no 201 made so', `${JSON.stringify(x)} in ${show(rec)}`);
      else if (goneBefore(b, rec.t0)) report('availability shows a booking removed before the request', `${JSON.stringify(x)} in ${show(rec)}`);
    }
    for (const b of byRoom.get(id) ?? []) {
      if (b.date >= from && b.date <= to && aliveThroughout(b, rec.t0, rec.t1) && !booked.some((x) => x.booking_id === b.id)) {
        report('availability misses a booking alive throughout the request', `${show(rec)}; made by ${show(b.rec)}`);
      }
    }
  }
  return { violations, sessionsChecked, bookings };
}

// ---------------------------------------------------------------- the test

let server: RunningServer | undefined;
let database: Awaited<ReturnType<typeof createDatabase>> | undefined;
let sql: postgres.Sql | undefined;
afterAll(async () => {
  if (process.env.MIXED_LOGS && server) say(`server log:\n${server.logs()}`);
  await sql?.end({ timeout: 1 });
  await server?.stop();
  await database?.drop();
});

const requestCounts = (samples: Sample[]) => new Map(samples.filter((sample) => sample.name === 'roombook_http_requests_total')
  .map((sample) => [`${sample.labels.method} ${sample.labels.route} ${sample.labels.status}`, sample.value]));

test('a mixed workload of colliding creates, renames, deletes, bookings, cancels and reads: every answer consistent with the others and with the rows', async () => {
  say(`replay with MIXED_SEED=${SEED}; ${SECONDS} s at ${CONCURRENCY} requests in flight`);
  database = await createDatabase();
  server = await startServer({ databaseUrl: database.url, workers: 2 });
  sql = connect(database.url);
  const before = requestCounts(await scrape(server.metricsUrl));
  const started = performance.now();
  const records = await runWorkload(server.url, SECONDS, CONCURRENCY, SEED);
  const loadMs = performance.now() - started;

  // The client's counts per route and status, against the service's own.
  const counted = new Map<string, number>();
  for (const rec of records) counted.set(`${rec.method} ${rec.route} ${rec.status}`, (counted.get(`${rec.method} ${rec.route} ${rec.status}`) ?? 0) + 1);
  const summary = [...counted].sort(([a], [b]) => a.localeCompare(b)).map(([key, count]) => `${key}: ${count}`).join(', ');
  say(`${records.length} requests in ${(loadMs / 1000).toFixed(1)} s (${Math.round(records.length / (loadMs / 1000))}/s): ${summary}`);
  const metricsDelta = async () => {
    const after = requestCounts(await scrape(server!.metricsUrl));
    const delta = new Map<string, number>();
    for (const [key, value] of after) if (value - (before.get(key) ?? 0) !== 0) delta.set(key, value - (before.get(key) ?? 0));
    return delta;
  };
  let delta = await metricsDelta();
  for (let i = 0; i < 20 && JSON.stringify([...delta].sort()) !== JSON.stringify([...counted].sort()); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100)); // a worker's count may reach the primary a moment after its answer
    delta = await metricsDelta();
  }

  const [bookingRows, roomRows, userRows] = await Promise.all([
    sql`SELECT id::int AS id, room_id::int AS room_id, user_id::int AS user_id, to_char(day, 'YYYY-MM-DD') AS day FROM bookings`,
    sql`SELECT id::int AS id FROM rooms`,
    sql`SELECT id::int AS id FROM users`,
  ]);
  const checkStarted = performance.now();
  const { violations, sessionsChecked, bookings } = check(records, {
    bookings: bookingRows as unknown as Rows['bookings'], rooms: roomRows.map((row) => row.id as number), users: userRows.map((row) => row.id as number),
  });
  say(`checked in ${Math.round(performance.now() - checkStarted)} ms: ${bookings.size} bookings answered 201, ${bookingRows.length} rows left, `
    + `${roomRows.length} rooms, ${userRows.length} users, ${sessionsChecked} listings; ${[...violations.values()].reduce((sum, list) => sum + list.length, 0)} violations`);

  // Each kind of violation, with its count and up to three offending requests and answers.
  const found = [...violations].map(([what, details]) => `${what} (${details.length}×): ${details.slice(0, 3).join(' | ')}`);
  expect(found).toEqual([]);
  // The service counted exactly the requests the client sent, per route and status.
  expect(Object.fromEntries([...delta].sort())).toEqual(Object.fromEntries([...counted].sort()));
  // The load did collide: the checks above had something to judge.
  expect(bookings.size).toBeGreaterThan(0);
  expect(counted.get('POST /book 409') ?? 0).toBeGreaterThan(0);
  const logs = server.logs();
  expect(logs).not.toMatch(/"message":"request failed"/);
  expect(logs).not.toMatch(/"message":"worker died/);
});
