/**
 * The per-worker existence cache: room and user names to ids. No I/O here: src/db/listen.ts feeds
 * it from LISTEN/NOTIFY and full reloads. It is only an accelerator: the booking statement checks
 * the id and name against the tables, so a stale entry costs a retry, never a wrong booking.
 */
export type Kind = 'room' | 'user';

export interface NameChange {
  kind: Kind;
  op: 'insert' | 'update' | 'delete';
  id: number;
  name: string;
  old?: string;
}

export class NameIndex {
  private byName = new Map<string, number>();
  lookups = 0; // read by metrics at scrape
  misses = 0;

  get size(): number {
    return this.byName.size;
  }

  idOf(name: string): number | undefined {
    const id = this.byName.get(name);
    this.lookups++;
    if (id === undefined) this.misses++;
    return id;
  }

  set(name: string, id: number): void {
    this.byName.set(name, id);
  }

  /** Forget a name, but only while it still means this id (a newer entry may have replaced it). */
  forget(name: string, id?: number): void {
    if (id === undefined || this.byName.get(name) === id) this.byName.delete(name);
  }

  /**
   * Sets these [id, name] rows: a page of a full reload. Updated in place, entry by entry: a second
   * map of every name would be alive beside the first while a reload runs.
   */
  setRows(rows: readonly (readonly [number, string])[]): void {
    const map = this.byName;
    for (const [id, name] of rows) if (map.get(name) !== id) map.set(name, id);
  }

  /** Drops every name that is not in `current` (names deleted while no notification came). */
  keepOnly(current: ReadonlySet<string>): void {
    for (const name of this.byName.keys()) if (!current.has(name)) this.byName.delete(name);
  }
}

export class ExistenceCache {
  readonly rooms = new NameIndex();
  readonly users = new NameIndex();
  loaded = false;

  index(kind: Kind): NameIndex {
    return kind === 'room' ? this.rooms : this.users;
  }

  apply(change: NameChange): void {
    const index = this.index(change.kind);
    if (change.op === 'delete') return index.forget(change.name, change.id);
    if (change.op === 'update' && change.old !== undefined) index.forget(change.old, change.id);
    index.set(change.name, change.id);
  }
}
