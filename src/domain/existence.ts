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

  /** Replaces every entry: ids[i] is the id of names[i]. */
  replaceAll({ ids, names }: { ids: readonly number[]; names: readonly string[] }): void {
    const next = new Map<string, number>();
    for (let i = 0; i < ids.length; i++) next.set(names[i], ids[i]);
    this.byName = next;
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
