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

  test.each([
    ['a zero-width space', 'room\u200b1'],
    ['a right-to-left override', 'room\u202e1'],
    ['a left-to-right isolate', '\u2066room1\u2069'],
    ['a right-to-left mark', 'room\u200f1'],
    ['a soft hyphen', 'ro\u00adom'],
    ['a word joiner', 'ro\u2060om'],
    ['a byte order mark inside', 'ro\ufeffom'],
    ['a line separator inside', 'ro\u2028om'],
    ['only Hangul fillers', '\u3164\u3164\u3164'],
    ['a combining grapheme joiner', 'room\u034f1'],
    ['a musical format control', 'ro\u{1d173}om'],
    ['an interlinear annotation anchor', 'ro\ufff9om'],
    ['only blank Braille patterns', '\u2800\u2800\u2800'],
  ])('a name with %s is refused: it would look like another name', (_, input) => {
    expect(normaliseRoomName(input)).toBeUndefined();
    expect(normaliseUserName(input)).toBeUndefined();
  });

  test.each([
    ['a zero-width joiner (emoji sequences, Indic scripts)', '👩\u200d💻ab', '👩\u200d💻AB'],
    ['a zero-width non-joiner (Persian)', 'می\u200cخواهم', 'می\u200cخواهم'],
    ['a variation selector', '\u2764\ufe0fab', '\u2764\ufe0fAB'],
    ['the tag characters of a flag emoji', '\u{1f3f4}\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}ab', '\u{1f3f4}\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}AB'],
  ])('a name with %s is kept', (_, input, expected) => expect(normaliseRoomName(input)).toBe(expected));

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
