/**
 * The request streams of bench/lua/*.lua in JavaScript, for the autocannon fallback. Kept in step
 * with the Lua scripts: same bodies in the same order per (virtual) thread.
 */
const DAY_MS = 86_400_000;
const pad2 = (n: number) => String(n).padStart(2, '0');

/** DD.MM.YY of a UTC day, as the Lua scripts format it. */
function shortDate(time: number): string {
  const date = new Date(time);
  return `${pad2(date.getUTCDate())}.${pad2(date.getUTCMonth() + 1)}.${pad2(date.getUTCFullYear() % 100)}`;
}

const body = (room: number, user: number, date: string) =>
  `{"room_name":"ROOM${room}","user_name":"user${user}","date":"${date}"}`;

/**
 * A stream whose bodies depend on how many requests a (virtual) thread has sent before, as in the
 * Lua scripts' per-thread counter. Requests go to the threads in turn, as wrk's threads share them.
 */
function perThread(threads: number, bodyAfter: (sentBefore: number) => string): () => string {
  const sent = new Array<number>(threads).fill(0);
  let next = 0;
  return () => bodyAfter(sent[next++ % threads]++);
}

/** post_book.lua: per thread, today+0, today+1, ... for ROOM1/user1. */
const postBook = (threads: number) => perThread(threads, (n) => body(1, 1, shortDate(Date.now() + n * DAY_MS)));

/** fresh_bookings.lua: slot base+k; room = s % rooms, day = (s / rooms + room*7) % days from tomorrow. */
function freshBookings(settings: Record<string, number>): () => string {
  const { rooms = 10000, users = 1000, days = 730, base = 0 } = settings;
  const tomorrow = Date.now() + DAY_MS;
  const dates = Array.from({ length: days }, (_, day) => shortDate(tomorrow + day * DAY_MS));
  let slot = base;
  return () => {
    const s = slot % (rooms * days);
    const room = s % rooms;
    const day = (Math.floor(s / rooms) + room * 7) % days;
    const text = body(room + 1, (slot % users) + 1, dates[day]);
    slot++;
    return text;
  };
}

/** past_date.lua: per thread, today-1, today-2, ... today-365, then again, for ROOM1/user1. */
const pastDate = (threads: number) => perThread(threads, (n) => body(1, 1, shortDate(Date.now() - (1 + (n % 365)) * DAY_MS)));

/** one_slot.lua: ROOM1/user1 on the day 30 days after the stream starts, every time. */
function oneSlot(): () => string {
  const text = body(1, 1, shortDate(Date.now() + 30 * DAY_MS));
  return () => text;
}

/** booked_days.lua: ROOM1/user1 on a day drawn at random from tomorrow .. today+300. */
function bookedDays(): () => string {
  return () => body(1, 1, shortDate(Date.now() + (1 + Math.floor(Math.random() * 300)) * DAY_MS));
}

export type StreamName = 'post_book' | 'fresh_bookings' | 'past_date' | 'one_slot' | 'booked_days';

export function bodyStream(workload: StreamName, threads: number, settings: Record<string, number>): () => string {
  switch (workload) {
    case 'post_book': return postBook(threads);
    case 'fresh_bookings': return freshBookings(settings);
    case 'past_date': return pastDate(threads);
    case 'one_slot': return oneSlot();
    case 'booked_days': return bookedDays();
  }
}
