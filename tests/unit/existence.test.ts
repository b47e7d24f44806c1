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

  test('setRows adds and updates entries in place; keepOnly drops the names not given', () => {
    const cache = new ExistenceCache();
    cache.apply({ kind: 'user', op: 'insert', id: 1, name: 'gone' });
    cache.users.setRows([[2, 'alice'], [3, 'bob']]);
    expect(cache.users.size).toBe(3); // nothing is dropped by setRows
    cache.users.keepOnly(new Set(['alice', 'bob']));
    expect(cache.users.idOf('gone')).toBeUndefined();
    expect(cache.users.idOf('bob')).toBe(3);
    expect(cache.users.size).toBe(2);
  });

  test('setRows takes the new id of a name that was re-created; keepOnly with no names empties', () => {
    const cache = new ExistenceCache();
    cache.apply({ kind: 'room', op: 'insert', id: 4, name: 'HALL' });
    cache.apply({ kind: 'room', op: 'insert', id: 5, name: 'ATTIC' });
    cache.rooms.setRows([[9, 'HALL'], [5, 'ATTIC']]);
    expect(cache.rooms.idOf('HALL')).toBe(9);
    expect(cache.rooms.idOf('ATTIC')).toBe(5);
    cache.rooms.keepOnly(new Set());
    expect(cache.rooms.size).toBe(0);
  });
});
