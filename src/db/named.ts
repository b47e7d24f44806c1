import type { Sql } from './sql';
import { AppError, isTransientConflict } from '../errors';
import type { Kind } from '../domain/existence';

/**
 * Rooms and users have the same shape (id, unique normalised name) and the same operations,
 * so one repository serves both; `kind` picks the table and the error codes.
 */
export interface Named {
  id: number;
  name: string;
}

const tables = { room: 'rooms', user: 'users' } as const;
const hasBookings = { room: 'room_has_bookings', user: 'user_has_bookings' } as const;
const bookingColumn = { room: 'room_id', user: 'user_id' } as const;
const RELOAD_PAGE_ROWS = 10_000;

export class NamedRepository {
  private readonly table: string;
  private readonly column: string;

  /** readAll: the pool for eachPage, whose read may take longer than one query's deadline. */
  constructor(private readonly sql: Sql, readonly kind: Kind, private readonly readAll: () => Sql = () => sql) {
    this.table = tables[kind];
    this.column = bookingColumn[kind];
  }

  async findIdByName(name: string): Promise<number | undefined> {
    try {
      const [row] = await this.sql`SELECT id FROM ${this.sql(this.table)} WHERE name = ${name}`;
      return row?.id;
    } catch (error) {
      if ((error as { code?: string }).code === UNTRANSLATABLE) return undefined; // no row can hold it
      throw error;
    }
  }

  /**
   * Every id and name, handed over a page of [id, name] rows at a time; returns how many there were.
   * One statement, so one snapshot, in which names are unique; read through a cursor, so that a
   * reload of 1,000,000 names holds a page of rows at a time rather than all of them at once
   * (236 MB per worker after three reloads, against 500-560 MB when one row held two arrays of
   * every id and name). It goes through `readAll`, not bounded by QUERY_TIMEOUT_MS as a whole:
   * 1,000,000 names took 4-5 s on the 2-core bench machine, and a caller that watches the pages
   * (the reload's deadline, moved on by each page) tells a long read from a stalled one. `onPage`
   * returning false stops the read.
   */
  async eachPage(onPage: (rows: readonly (readonly [number, string])[]) => boolean, pageRows = RELOAD_PAGE_ROWS): Promise<number> {
    const sql = this.readAll();
    let count = 0;
    await sql`SELECT id, name FROM ${sql(this.table)}`.values().cursor(pageRows, (rows) => {
      count += rows.length;
      return onPage(rows as unknown as (readonly [number, string])[]) ? undefined : sql.CLOSE;
    });
    return count;
  }

  async get(id: number): Promise<Named> {
    const [row] = await this.sql`SELECT id, name FROM ${this.sql(this.table)} WHERE id = ${id}`;
    if (!row) throw new AppError('not_found', `No ${this.kind} has id ${id}.`);
    return row as Named;
  }

  async list(after: number, limit: number): Promise<Named[]> {
    return (await this.sql`SELECT id, name FROM ${this.sql(this.table)}
      WHERE id > ${after} ORDER BY id LIMIT ${limit}`) as unknown as Named[];
  }

  async create(name: string): Promise<Named> {
    try {
      const [row] = await this.sql`INSERT INTO ${this.sql(this.table)} (name) VALUES (${name}) RETURNING id, name`;
      return row as Named;
    } catch (error) {
      throw asNameRefusal(error, name);
    }
  }

  /**
   * Two renames that take each other's names (A to B's name while B to A's) each hold their own row
   * and wait for the other's uncommitted name: PostgreSQL ends one with a deadlock (40P01) after
   * deadlock_timeout, which was a 500. That one is run again: by then the other has committed or
   * failed, and this one is decided against its outcome (200, or 409 name_taken).
   */
  async rename(id: number, name: string): Promise<Named> {
    for (let attempt = 1; ; attempt++) {
      try {
        const [row] = await this.sql`UPDATE ${this.sql(this.table)} SET name = ${name} WHERE id = ${id} RETURNING id, name`;
        if (!row) throw new AppError('not_found', `No ${this.kind} has id ${id}.`);
        return row as Named;
      } catch (error) {
        if (isTransientConflict(error) && attempt < RENAME_ATTEMPTS) continue;
        throw asNameRefusal(error, name);
      }
    }
  }

  /**
   * Deletes one room or user and its bookings, refusing while it has bookings on `today` or later
   * unless `cascade`. Bookings carry no foreign keys (sql/004): the table lock taken first waits
   * for every transaction inserting bookings and holds new ones off until this commits, so no
   * booking is left pointing at the deleted row and no future booking slips past the check.
   */
  async remove(id: number, cascade: boolean, today: string): Promise<void> {
    await this.sql.begin(async (tx) => {
      await tx`LOCK TABLE bookings IN SHARE ROW EXCLUSIVE MODE`;
      const [row] = await tx`SELECT id FROM ${tx(this.table)} WHERE id = ${id}`;
      if (!row) throw new AppError('not_found', `No ${this.kind} has id ${id}.`);
      if (!cascade) {
        const [future] = await tx`SELECT 1 FROM bookings WHERE ${tx(this.column)} = ${id} AND day >= ${today}::date LIMIT 1`;
        if (future) throw new AppError(hasBookings[this.kind]);
      }
      await tx`DELETE FROM bookings WHERE ${tx(this.column)} = ${id}`;
      await tx`DELETE FROM ${tx(this.table)} WHERE id = ${id}`;
    });
  }
}

const RENAME_ATTEMPTS = 3;
const UNTRANSLATABLE = '22P05'; // a character the database's encoding (LATIN1, say) has no place for

/**
 * A name the database refuses as a 409 or 400, not a 500. The API's own checks pass every name
 * that reaches here, but a database not in UTF8 may still refuse one: LATIN1 cannot store `ł`, and
 * in a SQL_ASCII database the CHECK's char_length counts bytes, so 16 `É` are 32 (23514).
 */
function asNameRefusal(error: unknown, name: string): unknown {
  switch ((error as { code?: string }).code) {
    case '23505': return new AppError('name_taken', `The name ${name} is already in use.`);
    case UNTRANSLATABLE: return new AppError('invalid_name', `The name ${name} has characters this database's encoding cannot store.`);
    case '23514': return new AppError('invalid_name', `The name ${name} is longer than this database allows: it counts bytes, not characters.`);
    default: return error;
  }
}
