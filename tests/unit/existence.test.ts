import { ExistenceCache } from '../../src/domain/existence';

describe('ExistenceCache', () => {
  test('applies inserts, renames and deletes', () => {
    const cache = new ExistenceCache();
    cache.apply({ kind: 'room', op: 'insert', id: 1, name: 'ROOM1' });
    cache.apply({ kind: 'user', op: 'insert', id: 1, name: 'user1' });
    expect(cache.rooms.idOf('ROOM1')).toBe(1);
    expect(cache.users.idOf('user1')).toBe(1);
    expect(cache.rooms.idOf('user1')).toBeUndefined();

    cache.apply({ kind: 'room', op: 'update', id: 1, name: 'ROOM2', old: 'ROOM1' });
    expect(cache.rooms.idOf('ROOM1')).toBeUndefined();
    expect(cache.rooms.idOf('ROOM2')).toBe(1);

    cache.apply({ kind: 'room', op: 'delete', id: 1, name: 'ROOM2' });
    expect(cache.rooms.idOf('ROOM2')).toBeUndefined();
    expect(cache.rooms.size).toBe(0);
  });

  test('a late delete of an old id does not remove a newer room of the same name', () => {
    const cache = new ExistenceCache();
    cache.apply({ kind: 'room', op: 'insert', id: 7, name: 'HALL' });
    cache.apply({ kind: 'room', op: 'delete', id: 3, name: 'HALL' });
    expect(cache.rooms.idOf('HALL')).toBe(7);
  });

  test('replaceAll swaps the whole index', () => {
    const cache = new ExistenceCache();
    cache.apply({ kind: 'user', op: 'insert', id: 1, name: 'gone' });
    cache.users.replaceAll({ ids: [2, 3], names: ['alice', 'bob'] });
    expect(cache.users.idOf('gone')).toBeUndefined();
    expect(cache.users.idOf('bob')).toBe(3);
    expect(cache.users.size).toBe(2);
  });

  test('replaceAll takes the new id of a name that was re-created, and empties on an empty table', () => {
    const cache = new ExistenceCache();
    cache.apply({ kind: 'room', op: 'insert', id: 4, name: 'HALL' });
    cache.apply({ kind: 'room', op: 'insert', id: 5, name: 'ATTIC' });
    cache.rooms.replaceAll({ ids: [9, 5], names: ['HALL', 'ATTIC'] });
    expect(cache.rooms.idOf('HALL')).toBe(9);
    expect(cache.rooms.idOf('ATTIC')).toBe(5);
    cache.rooms.replaceAll({ ids: [], names: [] });
    expect(cache.rooms.size).toBe(0);
  });
});
