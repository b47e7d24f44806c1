import { normaliseRoomName, normaliseUserName } from '../../src/domain/names';

describe('room names', () => {
  test.each([
    [' room1 ', 'ROOM1'],
    ['abc', 'ABC'],
    ['a'.repeat(16), 'A'.repeat(16)],
    ['Salle été', 'SALLE ÉTÉ'],
    ['\troom\n', 'ROOM'],
  ])('%j becomes %j', (input, expected) => expect(normaliseRoomName(input)).toBe(expected));

  test.each(['', '  ', 'ab', ' ab ', 'a'.repeat(17), 'ro\u0000om', 'ro\u0007om', 'room\ud800'])('%j is refused', (input) =>
    expect(normaliseRoomName(input)).toBeUndefined());

  test('lengths count code points, as PostgreSQL does', () => {
    expect(normaliseRoomName('😀😀😀')).toBe('😀😀😀'); // 6 UTF-16 units, 3 characters
    expect(normaliseRoomName('😀😀')).toBeUndefined();
    expect(normaliseRoomName('😀'.repeat(16))).toBe('😀'.repeat(16));
    expect(normaliseRoomName('😀'.repeat(17))).toBeUndefined();
  });

  test('composed and decomposed accents give the same name', () => {
    expect(normaliseRoomName('cafe\u0301')).toBe(normaliseRoomName('caf\u00e9'));
  });
});

describe('user names', () => {
  test.each([
    [' User1 ', 'user1'],
    ['a'.repeat(34), 'a'.repeat(34)],
    ['ÉMILIE', 'émilie'],
  ])('%j becomes %j', (input, expected) => expect(normaliseUserName(input)).toBe(expected));

  test.each(['us', 'a'.repeat(35), ' \u00a0 ', 'x\u001fy'])('%j is refused', (input) =>
    expect(normaliseUserName(input)).toBeUndefined());
});
