import { AppError } from '../errors';
import type { ExistenceCache, Kind } from './existence';
import { parseDay } from './dates';
import { normaliseRoomName, normaliseUserName, ROOM_NAME_LENGTH, USER_NAME_LENGTH } from './names';
import type { BookingBatcher, Requester } from '../db/bookings';
import type { Booking, BookingRequest } from '../db/booking-statement';

/** Where a room or user comes from in a booking request: a name, or an id. */
export type Reference = { name: string } | { id: number };

export interface BookingInput {
  room: Reference;
  user: Reference;
  date: string;
  /** Who waits for the answer: a booking is not sent to the database once they have gone. */
  client?: Requester;
}

/**
 * What a booking request came to. The two refusals that loads are made of are returned rather
 * than thrown: "already booked", the common answer under contention (85 % of the original script's
 * answers), and "date in the past" (the original script's dates after 2099 read as 20YY: a fifth to a
 * quarter of the answers of a 10 s run). A rejection through the async frames of the request path
 * cost ~2 µs of worker CPU per request in an earlier A/B, and 8-11 µs in a slow hour (bench
 * past-c64, 3 rounds). Every other refusal is a thrown AppError.
 */
export type BookingOutcome = { booked: Booking } | { refused: 'already_booked' | 'date_in_past'; message: string };

export interface NameLookup {
  findIdByName(name: string): Promise<number | undefined>;
}

const notFound = { room: 'room_not_found', user: 'user_not_found' } as const;
const normalisers = { room: normaliseRoomName, user: normaliseUserName } as const;

/**
 * The booking decision, without HTTP or SQL text: validate, normalise, find the ids (cache first,
 * the database once on a miss), then let the database decide in one statement.
 */
export class BookingService {
  constructor(
    private readonly cache: ExistenceCache,
    private readonly lookups: Record<Kind, NameLookup>,
    private readonly batcher: BookingBatcher,
    private readonly today: () => string,
  ) {}

  async book(input: BookingInput): Promise<BookingOutcome> {
    const day = parseDay(input.date);
    if (day === undefined) throw new AppError('invalid_date', `The date ${JSON.stringify(input.date)} is not a real date in the form DD.MM.YY, DD/MM/YY or YYYY-MM-DD.`);
    const roomName = 'name' in input.room ? normalised('room', input.room.name) : null;
    const userName = 'name' in input.user ? normalised('user', input.user.name) : null;
    const today = this.today();
    if (day < today) return { refused: 'date_in_past', message: `The date ${day} is before today (${today}).` };

    // Ids from the cache come back at once; only a miss makes this wait (both misses together).
    const roomRef = 'id' in input.room ? input.room.id : this.idOf('room', roomName!);
    const userRef = 'id' in input.user ? input.user.id : this.idOf('user', userName!);
    let [roomId, userId] = typeof roomRef === 'number' && typeof userRef === 'number'
      ? [roomRef, userRef] : await bothIds(roomRef, userRef);
    // A cached id that the database rejects is stale (renamed, deleted, re-created): ask once more.
    for (let attempt = 1; ; attempt++) {
      const request: BookingRequest = { roomId, roomName, userId, userName, day };
      const decision = await this.batcher.decide(request, input.client);
      if (decision.outcome === 'booked') return { booked: decision.booking };
      if (decision.outcome === 'already_booked') return { refused: 'already_booked', message: `The room is already booked on ${day}.` };
      const kind: Kind = decision.outcome === 'room_invalid' ? 'room' : 'user';
      const name = kind === 'room' ? roomName : userName;
      if (name === null || attempt > 2) throw new AppError(notFound[kind]); // room, then user, may each be stale
      this.cache.index(kind).forget(name);
      if (kind === 'room') roomId = await this.idOf('room', name);
      else userId = await this.idOf('user', name);
    }
  }

  /** The cached id, or a promise of the database's answer on a miss. */
  private idOf(kind: Kind, name: string): number | Promise<number> {
    const cached = this.cache.index(kind).idOf(name);
    return cached !== undefined ? cached : this.lookUp(kind, name);
  }

  private async lookUp(kind: Kind, name: string): Promise<number> {
    const index = this.cache.index(kind);
    const id = await this.lookups[kind].findIdByName(name);
    if (id === undefined) throw new AppError(notFound[kind], `No ${kind} is named ${name}.`);
    index.set(name, id);
    return id;
  }
}

/**
 * Both ids, once both lookups have answered. Neither found: the room's refusal, every time (the
 * first lookup to fail would make the answer depend on which query came back first).
 */
async function bothIds(room: number | Promise<number>, user: number | Promise<number>): Promise<[number, number]> {
  const [roomId, userId] = await Promise.allSettled([room, user]);
  if (roomId.status === 'rejected') throw roomId.reason;
  if (userId.status === 'rejected') throw userId.reason;
  return [roomId.value, userId.value];
}

export function normalised(kind: Kind, raw: string): string {
  const name = normalisers[kind](raw);
  if (name === undefined) {
    const [{ min, max }, casing] = kind === 'room' ? [ROOM_NAME_LENGTH, 'upper-casing'] : [USER_NAME_LENGTH, 'lower-casing'];
    throw new AppError('invalid_name', `A ${kind} name must have ${min} to ${max} characters after trimming and ${casing}, and no control or invisible characters.`);
  }
  return name;
}
