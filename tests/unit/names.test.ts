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

  test('NFC comes after the case mapping: upper-casing "i\u0307" gives "I\u0307", stored as "\u0130"', () => {
    for (const spelling of ['i\u0307ab', '\u0130ab', 'I\u0307ab', '\u0130AB']) expect(normaliseRoomName(spelling)).toBe('\u0130AB');
    expect(normaliseRoomName('\u03b0\u03b0\u03b0')).toBe('\u03ab\u0301\u03ab\u0301\u03ab\u0301'); // ΰ: Υ, diaeresis, acute
  });

  test('lengths are those of the name as stored: upper-casing ß gives SS', () => {
    expect(normaliseRoomName('ß'.repeat(8))).toBe('S'.repeat(16));
    expect(normaliseRoomName('ß'.repeat(9))).toBeUndefined();
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

/**
 * A name as stored, sent back, must name the same row: normalising it again changes nothing. For
 * every code point below U+20000 (the cased scripts all lie there), alone and before the combining
 * marks that case mappings and compositions involve.
 */
test.each([
  ['room', normaliseRoomName],
  ['user', normaliseUserName],
])('every %s name comes back unchanged when normalised again', (_, normalise) => {
  const unstable: string[] = [];
  for (let codePoint = 0x20; codePoint < 0x20000; codePoint++) {
    if (codePoint >= 0xd800 && codePoint <= 0xdfff) continue;
    for (const mark of ['', '\u0301', '\u0307', '\u0308', '\u0345']) {
      const stored = normalise(`ab${String.fromCodePoint(codePoint)}${mark}x`);
      if (stored !== undefined && normalise(stored) !== stored) unstable.push(stored);
    }
  }
  expect(unstable).toEqual([]);
});
